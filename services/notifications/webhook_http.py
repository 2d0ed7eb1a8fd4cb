"""One webhook POST: resolve and check the host (ssrf), connect to the checked address with
short timeouts, send, read the status. Redirects are answers, never followed.

It runs in a green thread (sockets and DNS are eventlet's once the process is monkey-patched,
as nameko's runner does), so a slow receiver holds its own green thread and nothing else.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from dataclasses import dataclass

import eventlet

from services.notifications import ssrf

USER_AGENT = "ClusterXchange-Webhooks/1"
_READ_LIMIT = 4096  # what we read of an answer: the status is all that matters


@dataclass(frozen=True)
class Answer:
    status: int | None
    duration_ms: int
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post(url: str, body: bytes, headers: dict[str, str], *, connect_timeout: float,
         read_timeout: float, allow_insecure: bool,
         resolver: ssrf.Resolver = socket.getaddrinfo) -> Answer:
    started = time.perf_counter()

    def answer(status: int | None, error: str | None) -> Answer:
        return Answer(status, int((time.perf_counter() - started) * 1000), error)

    # A hard ceiling over resolution, connect, TLS, send and read, besides the per-operation
    # timeouts.
    deadline = 2 * connect_timeout + 2 * read_timeout
    try:
        with eventlet.Timeout(deadline):
            try:
                target, addresses = ssrf.check(url, allow_insecure, resolver)
            except ssrf.UnsafeTarget as exc:
                return answer(None, f"refused: {exc}")
            status, location = _exchange(target, addresses[0], body, headers, connect_timeout,
                                         read_timeout)
    except eventlet.Timeout:
        return answer(None, f"no answer within {deadline:.0f}s")
    except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
        return answer(None, f"{type(exc).__name__}: {exc}"[:500])
    if 300 <= status < 400:
        return answer(status, f"redirect to {location or '?'} not followed"[:500])
    return answer(status, None if 200 <= status < 300 else f"answered {status}")


def _exchange(target: ssrf.Target, address: ssrf.IPAddress, body: bytes, headers: dict[str, str],
              connect_timeout: float, read_timeout: float) -> tuple[int, str | None]:
    sock = socket.create_connection((str(address), target.port), timeout=connect_timeout)
    try:
        sock.settimeout(read_timeout)
        if target.scheme == "https":
            # Certificate and host name checked against the name, on the checked address.
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=target.host)
        connection = http.client.HTTPConnection(target.host, target.port, timeout=read_timeout)
        connection.sock = sock  # already connected: http.client will not resolve the name again
        connection.putrequest("POST", target.path, skip_host=True, skip_accept_encoding=True)
        for name, value in {"Host": target.host_header, "User-Agent": USER_AGENT,
                            "Content-Type": "application/json",
                            "Content-Length": str(len(body)), **headers}.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        response.read(_READ_LIMIT)
        return response.status, response.getheader("Location")
    finally:
        sock.close()
