"""Per-client request limits for the endpoints that attackers hammer (sign-in, sign-up, the
account emails: password reset, verification and its re-send).

Who the client is: the peer address, unless the peer is one of TRUSTED_PROXIES (addresses or
CIDR networks); then X-Forwarded-For is read from the right, skipping trusted hops, and the
first address that is not a trusted proxy is the client. A client cannot forge its way past
a limit by sending its own X-Forwarded-For: only what the trusted proxies appended counts.

Where the counts live: in-process sliding windows by default (each gateway process limits
on its own, which bounds a client to limit x processes); with RATE_LIMIT_REDIS_URL one
sliding window in Redis shared by every gateway process. Should Redis not answer, the
process falls back to its own windows rather than refusing everyone. Account lockout in
registration is the hard stop either way.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import time
from collections import deque
from typing import Any

from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Request

from common.errors import TooManyRequests

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


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


# One sliding-window log per key in a sorted set, trimmed and counted atomically, timed by
# Redis's clock so every gateway process agrees on the window.
_REDIS_HIT = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local window_ms = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms - window_ms)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now_ms, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window_ms)
return 1
"""


class RedisWindow:
    """The same sliding window as `SlidingWindow`, shared through Redis."""

    def __init__(self, client: Any, name: str, limit: int, window_seconds: float,
                 prefix: str) -> None:
        self.limit = limit
        self.window = window_seconds
        self.key_prefix = f"{prefix}{name}:"
        self._script = client.register_script(_REDIS_HIT)

    def hit(self, key: str) -> bool:
        allowed = self._script(keys=[self.key_prefix + key],
                               args=[int(self.window * 1000), self.limit, secrets.token_hex(8)])
        return bool(allowed)


def parse_networks(raw: str) -> tuple[Network, ...]:
    """"10.0.0.0/8, 192.168.1.7" as networks; a bad entry is a configuration error."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False)
                 for part in raw.split(",") if part.strip())


def _ip(raw: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(raw.strip())
    except ValueError:
        return None


def client_address(request: Request, trusted: tuple[Network, ...]) -> str:
    """The client's address as the trusted proxies saw it (see the module's docstring)."""
    peer = request.remote_addr or ""

    def is_trusted(raw: str) -> bool:
        address = _ip(raw)
        return address is not None and any(address in network for network in trusted)

    if not trusted or not is_trusted(peer):
        return peer or "?"
    hops = [hop.strip() for header in request.headers.getlist("X-Forwarded-For")
            for hop in header.split(",") if hop.strip()]
    for hop in reversed(hops):
        if _ip(hop) is None:
            return peer  # a malformed chain: trust nothing in it
        if not is_trusted(hop):
            return hop
    return hops[0] if hops else peer


class RateLimits(DependencyProvider):
    WINDOWS = {"login": ("rate_limit_login_per_minute", 60),
               "signup": ("rate_limit_signup_per_hour", 3600),
               "account_email": ("rate_limit_account_email_per_hour", 3600),
               "support": ("rate_limit_support_per_hour", 3600)}

    def setup(self) -> None:
        security = self.container.config["SECURITY"]
        self.configure(security)

    def configure(self, security: dict[str, Any]) -> None:
        self.trusted = parse_networks(security.get("trusted_proxies", ""))
        self.windows = {name: SlidingWindow(security[setting], seconds)
                        for name, (setting, seconds) in self.WINDOWS.items()}
        self.shared: dict[str, RedisWindow] = {}
        url = security.get("rate_limit_redis_url", "")
        if url:
            import redis

            client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
            prefix = security.get("rate_limit_key_prefix", "cxc:ratelimit:")
            self.shared = {name: RedisWindow(client, name, security[setting], seconds, prefix)
                           for name, (setting, seconds) in self.WINDOWS.items()}

    def get_dependency(self, worker_ctx: Any) -> RateLimits:
        return self

    def client(self, request: Request) -> str:
        return client_address(request, self.trusted)

    def check(self, bucket: str, client: str) -> None:
        if not self._hit(bucket, client):
            raise TooManyRequests("Too many attempts from your address; wait a minute and try again.")

    def _hit(self, bucket: str, client: str) -> bool:
        shared = self.shared.get(bucket)
        if shared is not None:
            try:
                return shared.hit(client)
            except Exception as exc:  # Redis away: limit per process rather than not at all
                log.warning("rate-limit store unavailable (%s); limiting in this process",
                            exc.__class__.__name__)
        return self.windows[bucket].hit(client)
