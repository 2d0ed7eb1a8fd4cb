"""Per-client request limits for the endpoints that attackers hammer (sign-in, sign-up).

In-process sliding windows: each gateway process limits on its own, which bounds a
client to (limit x gateway processes). Account lockout in registration is the hard stop.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from nameko.extensions import DependencyProvider

from common.errors import TooManyRequests


class SlidingWindow:
    def __init__(self, limit: int, window_seconds: float, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window_seconds
        self.max_keys = max_keys
        self.hits: dict[str, deque[float]] = {}

    def hit(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        if len(self.hits) >= self.max_keys:
            self.hits.clear()
        queue = self.hits.setdefault(key, deque())
        while queue and queue[0] <= now - self.window:
            queue.popleft()
        if len(queue) >= self.limit:
            return False
        queue.append(now)
        return True


class RateLimits(DependencyProvider):
    def setup(self) -> None:
        security = self.container.config["SECURITY"]
        self.windows = {
            "login": SlidingWindow(security["rate_limit_login_per_minute"], 60),
            "signup": SlidingWindow(security["rate_limit_signup_per_hour"], 3600),
            "support": SlidingWindow(security.get("rate_limit_support_per_hour", 10), 3600),
        }

    def get_dependency(self, worker_ctx: Any) -> RateLimits:
        return self

    def check(self, bucket: str, client: str) -> None:
        if not self.windows[bucket].hit(client):
            raise TooManyRequests("Too many attempts from your address; wait a minute and try again.")
