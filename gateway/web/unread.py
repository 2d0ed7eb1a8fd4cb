"""The unread count every signed-in page shows beside the account (the bell)."""

from __future__ import annotations

import logging
from typing import Any

from common.errors import AppError
from common.rpc import BROKER_ERRORS
from gateway.web.cache import TtlCache

log = logging.getLogger(__name__)

# Read again at most every 15 seconds per session, and at once after the person marks
# something read (gateway/web/inbox.py forgets the entry).
UNREAD = TtlCache(15)


def unread_count(routes: Any, web: Any) -> int | None:
    """None when the inbox cannot say (no session, or the notifications service is away):
    the page is served without the count rather than not at all."""
    if not web.token:
        return None

    def load() -> int | None:
        try:
            return routes._web(web, "notifications", "unread_count")["unread"]
        except (AppError, *BROKER_ERRORS) as exc:
            log.info("no unread count for the header: %r", exc)
            return None

    return UNREAD.get(web.token, load)
