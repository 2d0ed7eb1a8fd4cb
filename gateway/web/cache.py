"""A small in-process cache with a lifetime, for what a page needs on every request and that
hardly changes: the signed-in account (per token) and the list of partnerships."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any


class TtlCache:
    def __init__(self, seconds: float, size: int = 10_000) -> None:
        self.seconds = seconds
        self.size = size
        self._items: OrderedDict[str, tuple[float, Any]] = OrderedDict()

    def get(self, key: str, load: Callable[[], Any]) -> Any:
        found = self._items.get(key)
        now = time.monotonic()
        if found is not None and found[0] > now:
            return found[1]
        value = load()
        self._items[key] = (now + self.seconds, value)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)
        return value

    def forget(self, key: str) -> None:
        """What changed now (an address just verified, a session signed out) is read again."""
        self._items.pop(key, None)
