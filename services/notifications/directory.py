"""Who an event concerns, as registration's `notification_recipients` answers it, kept for a
short time per registration, account and partnership.

Most events concern people notifications heard about moments ago (the two parties of a
contact request, a partnership's contact points), and asking registration costs an RPC
round trip per event. So each entry of an answer is kept for NOTIFICATIONS_DIRECTORY_SECONDS
(30 by default; 0 asks every time) and only what is missing or older is asked for.

The stale-data rule: a change registration makes (a person's name or address, an
organisation's name, a partnership's contact points) reaches notifications within that
time. A registration event names the registration and account it is about: those entries
are dropped before the event is handled (`forget`), so the event itself is told with fresh
data. Account emails (verification, password reset) never go through here: they ask
registration every time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from nameko.extensions import DependencyProvider

# More entries than this and the cache starts over (a burst about many people).
MAX_ENTRIES = 50_000

Ask = Callable[[dict[str, list[str]]], dict[str, Any]]


class DirectoryCache:
    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl_seconds
        self.clock = clock
        self._entries: dict[tuple[str, str], tuple[float, Any]] = {}

    def _get(self, kind: str, key: str, now: float) -> Any | None:
        found = self._entries.get((kind, key))
        if found is None or now - found[0] >= self.ttl:
            return None
        return found[1]

    def _put(self, kind: str, key: str, value: Any, now: float) -> None:
        if len(self._entries) >= MAX_ENTRIES:
            self._entries.clear()
        self._entries[(kind, key)] = (now, value)

    def forget(self, registration_id: str | None = None, account_id: str | None = None) -> None:
        if registration_id:
            self._entries.pop(("registration", str(registration_id)), None)
        if account_id:
            self._entries.pop(("account", str(account_id)), None)

    def lookup(self, request: dict[str, list[str]], ask: Ask) -> dict[str, Any]:
        """The answer `ask(request)` would give, from what is kept where it is fresh; `ask`
        is called, once, with only what is missing."""
        if self.ttl <= 0:
            return ask(request)
        now = self.clock()
        found: dict[str, dict[str, Any]] = {"accounts": {}, "registrations": {},
                                            "partnerships": {}, "contact_points": {}}
        missing: dict[str, list[str]] = {"account_ids": [], "registration_ids": [],
                                         "partnership_ids": []}
        for registration_id in request.get("registration_ids") or ():
            entry = self._get("registration", registration_id, now)
            if entry is None:
                missing["registration_ids"].append(registration_id)
            else:
                found["registrations"][registration_id] = entry
        # The owners of the registrations found are wanted too (as registration answers).
        owners = [entry["account_id"] for entry in found["registrations"].values()]
        for account_id in dict.fromkeys([*(request.get("account_ids") or ()), *owners]):
            entry = self._get("account", account_id, now)
            if entry is None:
                missing["account_ids"].append(account_id)
            else:
                found["accounts"][account_id] = entry
        for partnership_id in request.get("partnership_ids") or ():
            entry = self._get("partnership", partnership_id, now)
            if entry is None:
                missing["partnership_ids"].append(partnership_id)
            else:
                found["partnerships"][partnership_id], points = entry
                if points:
                    found["contact_points"][partnership_id] = points
        if any(missing.values()):
            self._take(ask(missing), missing, found, now)
        return found

    def _take(self, answer: dict[str, Any], asked: dict[str, list[str]],
              found: dict[str, dict[str, Any]], now: float) -> None:
        # Only what registration found is kept: an unknown id is asked again next time.
        for registration_id, entry in (answer.get("registrations") or {}).items():
            self._put("registration", registration_id, entry, now)
            found["registrations"][registration_id] = entry
        for account_id, entry in (answer.get("accounts") or {}).items():
            self._put("account", account_id, entry, now)
            found["accounts"][account_id] = entry
        points_of = answer.get("contact_points") or {}
        for partnership_id, entry in (answer.get("partnerships") or {}).items():
            points = points_of.get(partnership_id) or []
            self._put("partnership", partnership_id, (entry, points), now)
            found["partnerships"][partnership_id] = entry
            if points:
                found["contact_points"][partnership_id] = points


class Directory(DependencyProvider):
    """The process's DirectoryCache (NOTIFICATIONS["directory_seconds"])."""

    def setup(self) -> None:
        seconds = float(self.container.config.get("NOTIFICATIONS", {}).get("directory_seconds", 30))
        self.cache = DirectoryCache(seconds)

    def get_dependency(self, worker_ctx: Any) -> DirectoryCache:
        return self.cache
