"""The unread count every signed-in page shows beside the account (the bell)."""

from __future__ import annotations

import logging
import time
import weakref
from typing import Any

from common.errors import AppError
from common.rpc import BROKER_ERRORS
from gateway.web.cache import TtlCache

log = logging.getLogger(__name__)

# Read again at most every 15 seconds per session, and at once after the person marks
# something read (gateway/web/inbox.py forgets the entry).
UNREAD = TtlCache(15)
# The bell is not worth a slow page: one second at most, and once the notifications service
# failed to answer, no page of any session asks again for the next 15 seconds. Kept per
# gateway (its RPC dependency), not per process: tests run several gateways in one.
ASK_SECONDS = 1.0
AWAY_SECONDS = 15.0
_AWAY_UNTIL: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


def unread_count(routes: Any, web: Any) -> int | None:
    """None when the inbox cannot say (no session, or the notifications service is away):
    the page is served without the count rather than not at all."""
    gateway = getattr(routes.rpc, "provider", routes)
    if not web.token or time.monotonic() < _AWAY_UNTIL.get(gateway, 0.0):
        return None

    def load() -> int | None:
        try:
            return routes._call(web.request, "notifications", "unread_count",
                                timeout=ASK_SECONDS)["unread"]
        except (AppError, *BROKER_ERRORS) as exc:
            log.info("no unread count for the header: %r", exc)
            _AWAY_UNTIL[gateway] = time.monotonic() + AWAY_SECONDS
            return None

    return UNREAD.get(web.token, load)
