"""Where a webhook may point: public HTTPS endpoints only (server-side request forgery).

A partnership chooses the URL our servers will POST to, so without these checks it could make
them call our own broker, database, cloud metadata service or anything on the private network.
The rules:

- `https` only, no credentials in the URL, a host name or address;
- every address the host resolves to must be public: not loopback, private, link-local,
  multicast, reserved, unspecified or shared (CGNAT), and an IPv6 address that embeds an
  IPv4 one (IPv4-mapped, 6to4, NAT64, Teredo) is judged by that IPv4 address;
- checked when the endpoint is registered AND before every delivery, after resolving the
  name; the delivery then connects to the very address that was checked (a name that
  resolves differently the second time, DNS rebinding, gains nothing);
- redirects are not followed (webhook_http).

`WEBHOOKS_ALLOW_INSECURE` lifts the scheme and address rules for development and tests.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

Resolver = Callable[..., list]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2000
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UnsafeTarget(Exception):
    """The URL may not be called; the message says why, for the person who registered it."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as written (IDNA-encoded); what TLS and the Host header name
    port: int
    path: str  # path and query, at least "/"

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def parse(url: str, allow_insecure: bool = False) -> Target:
    """The URL's parts, or UnsafeTarget for what no resolution can make acceptable."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise UnsafeTarget(f"Give an absolute https URL of at most {MAX_URL_LENGTH} characters.")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise UnsafeTarget("The URL contains spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeTarget(f"The URL cannot be parsed: {exc}.") from exc
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if allow_insecure else ("https",)
    if scheme not in allowed:
        raise UnsafeTarget("Only https URLs are accepted.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeTarget("Put no credentials in the URL; verify our signature instead.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeTarget("The URL names no host.")
    if parts.fragment:
        raise UnsafeTarget("The URL may not carry a fragment (#…).")
    try:
        host = host.encode("idna").decode("ascii") if not _literal(host) else host
    except UnicodeError as exc:
        raise UnsafeTarget("The host name is not valid.") from exc
    target = Target(scheme, host, port or (443 if scheme == "https" else 80),
                    (parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
    literal = _literal(host)
    if literal is not None and not allow_insecure:
        ensure_public(literal)
    return target


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for, if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress) -> bool:
    inner = embedded_ipv4(address)
    if inner is not None and not is_public(inner):
        return False
    return bool(address.is_global and not (
        address.is_multicast or address.is_loopback or address.is_link_local or address.is_private
        or address.is_reserved or address.is_unspecified
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)))


def ensure_public(address: IPAddress) -> None:
    if not is_public(address):
        raise UnsafeTarget(f"{address} is not a public address: webhooks only call public "
                           "endpoints.")


def resolve(target: Target, allow_insecure: bool = False,
            resolver: Resolver = socket.getaddrinfo) -> list[IPAddress]:
    """The addresses to connect to, each checked; UnsafeTarget when the name does not resolve
    or any of its addresses is not public (a name with one private address among public
    ones is refused as a whole: which one a client picks is not ours to predict)."""
    literal = _literal(target.host)
    if literal is not None:
        if not allow_insecure:
            ensure_public(literal)
        return [literal]
    try:
        infos = resolver(target.host, target.port, 0, socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeTarget(f"{target.host} does not resolve.") from exc
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnsafeTarget(f"{target.host} does not resolve.")
    if not allow_insecure:
        for address in addresses:
            if not is_public(address):
                raise UnsafeTarget(f"{target.host} resolves to {address}, which is not a public "
                                   "address: webhooks only call public endpoints.")
    return addresses


def check(url: str, allow_insecure: bool = False,
          resolver: Resolver = socket.getaddrinfo) -> tuple[Target, list[IPAddress]]:
    target = parse(url, allow_insecure)
    return target, resolve(target, allow_insecure, resolver)
