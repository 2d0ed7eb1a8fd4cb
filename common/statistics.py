"""Who may read the programme's statistics, and the shapes every service's figures share.

Administrators see the whole programme, or one partnership's figures when they ask for it;
a partnership's contact point sees its own partnership only; every other role gets a 403
(the figures are not an object someone could probe for, so there is nothing to hide
behind a 404). Each service applies this itself with the caller it rebuilt from the token.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from common.auth import Caller
from common.errors import NotAllowed

UNKNOWN = "unknown"  # the key of rows whose group is empty (no start date, no country)


def statistics_scope(caller: Caller, partnership_id: str | None) -> str | None:
    """The partnership the figures are limited to (None: the whole programme), or 403."""
    if caller.is_admin:
        return partnership_id or None
    if caller.has("partnership_contact") and caller.partnership_id:
        if partnership_id and partnership_id != caller.partnership_id:
            raise NotAllowed("A contact point sees its own partnership's figures only.")
        return caller.partnership_id
    raise NotAllowed("Only administrators and contact points see statistics.")


def counts(rows: Iterable[Any]) -> list[dict[str, Any]]:
    """(key, count) rows as `[{"key", "count"}]`, the biggest first, then by key."""
    merged: dict[str, int] = {}
    for key, count in rows:
        key = key if key not in (None, "") else UNKNOWN
        merged[key] = merged.get(key, 0) + int(count)
    return [{"key": key, "count": count}
            for key, count in sorted(merged.items(), key=lambda item: (-item[1], item[0]))]
