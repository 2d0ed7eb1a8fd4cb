"""What every group of routes shares: dependencies, the authenticated call, response shapes."""

from __future__ import annotations

import hashlib
import time
import unicodedata
from functools import cache
from typing import Any
from urllib.parse import quote, urlencode

from nameko.dependency_providers import Config
from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Request, Response

from common.auth import Caller, TokenService
from common.errors import Unauthorized, ValidationFailed
from common.idempotency import REPLAYED_FIELD, valid_key
from common.logs import RequestContext
from common.rpc import Rpc
from common.storage import ObjectStoreProvider
from gateway.http import REPLAYED, ROUTES, json_response
from gateway.ratelimit import RateLimits
from gateway.requests import bearer_token
from services.registration.account_tokens import is_api_key

V1 = "/api/v1"


class Tokens(DependencyProvider):
    """Token checks for the routes: signature, expiry, the revocation list (kept current by
    a feed of registration's events), and API keys exchanged for a short-lived token."""

    def setup(self) -> None:
        from common.revocation import RevocationFeed

        self.tokens = TokenService(self.container.config["JWT"], generate=False)
        self.feed = RevocationFeed(self.container.config, self.tokens.revoked)
        accounts = self.container.config.get("ACCOUNTS") or {}
        self.cache_seconds = float(accounts.get("api_key_cache_seconds", 30))
        self.api_keys: dict[str, tuple[str, float]] = {}  # sha256(key) -> (token, until)
        self.rpc_provider = next(dep for dep in self.container.dependencies
                                 if isinstance(dep, Rpc))

    def start(self) -> None:
        self.feed.start()

    def stop(self) -> None:
        self.feed.stop()

    def kill(self) -> None:
        self.feed.stop()

    def get_dependency(self, worker_ctx: Any) -> GatewayTokens:
        return GatewayTokens(self, worker_ctx)


class GatewayTokens:
    def __init__(self, provider: Tokens, worker_ctx: Any) -> None:
        self.provider = provider
        self.worker_ctx = worker_ctx

    def verify(self, token: str) -> Caller:
        return self.provider.tokens.verify(token)

    def resolve(self, raw: str) -> str:
        """The token to forward for what the client sent: itself once verified, or for an
        API key the token registration exchanged it for. Cached briefly, and re-asked as
        soon as the cached token is refused (its key revoked), so revocation takes seconds."""
        if not is_api_key(raw):
            self.verify(raw)
            return raw
        cache = self.provider.api_keys
        digest = hashlib.sha256(raw.encode()).hexdigest()
        cached = cache.get(digest)
        if cached is not None and time.monotonic() < cached[1]:
            try:
                self.verify(cached[0])
                return cached[0]
            except Unauthorized:
                pass
        cache.pop(digest, None)
        rpc = self.provider.rpc_provider.get_dependency(self.worker_ctx)
        exchanged = rpc.call("registration", "exchange_api_key", raw)
        token = exchanged["access_token"]
        self.verify(token)
        if len(cache) >= 10_000:
            cache.clear()
        lifetime = min(self.provider.cache_seconds, max(0.0, exchanged["expires_in"] - 10))
        cache[digest] = (token, time.monotonic() + lifetime)
        return token


class Routes:
    """Mixed into the gateway service; route groups subclass it."""

    config = Config()
    rpc = Rpc()
    tokens = Tokens()
    limits = RateLimits()
    store = ObjectStoreProvider()
    request_context = RequestContext()

    def _call(self, request: Request, service: str, method: str, *args: Any,
              auth: bool = True, form_key: str | None = None, **options: Any) -> Any:
        """The RPC for a request: its token, and its Idempotency-Key on routes that take one
        (a replayed answer is flagged for the `Idempotent-Replayed` header). Web forms pass
        the key they carry as `form_key`. `options` are the method's own keyword arguments."""
        token = caller_token(request, self.tokens) if auth else None
        kwargs: dict[str, Any] = dict(options)
        if form_key:
            kwargs["idempotency_key"] = form_key
        elif request.environ.get("cxc.route") in _idempotent_routes():
            key = idempotency_key(request)
            if key is not None:
                kwargs["idempotency_key"] = key
        result = self.rpc.call(service, method, *args, auth_token=token, **kwargs)
        if "idempotency_key" in kwargs and isinstance(result, dict) and result.pop(REPLAYED_FIELD, False):
            request.environ[REPLAYED] = True
        return result


SESSION_TOKEN = "cxc.session_token"  # noqa: S105 - an environ key, not a secret


def caller_token(request: Request, tokens: TokenService) -> str:
    """The web application's session token (its pages put it there after checking the
    cookie), or else the API's bearer token. API routes never read cookies."""
    return request.environ.get(SESSION_TOKEN) or bearer_token(request, tokens)


@cache
def _idempotent_routes() -> frozenset[tuple[str, str]]:
    return frozenset((route.method, route.path) for route in ROUTES if route.idempotent)


def idempotency_key(request: Request) -> str | None:
    raw = request.headers.get("Idempotency-Key")
    if raw is None:
        return None
    if not valid_key(raw):
        raise ValidationFailed("The Idempotency-Key header is not valid.", {
            "Idempotency-Key": ["Use 1 to 255 printable ASCII characters (a UUID is ideal)."]})
    return raw


def paged(result: dict[str, Any], request: Request) -> Response:
    """One page of a list: the items, X-Total-Count (across all pages) and RFC 8288 Link."""
    headers = {
        "X-Total-Count": str(result["total"]),
        "X-Page": str(result["page"]),
        "X-Per-Page": str(result["per_page"]),
    }
    links = page_links(request, result["page"], result["per_page"], result["total"])
    if links:
        headers["Link"] = links
    if "items_json" in result:  # encoded once by the service that prepared the page
        return Response(result["items_json"], headers=headers, mimetype="application/json")
    return json_response(result["items"], headers=headers)


def page_links(request: Request, page: int, per_page: int, total: int) -> str:
    """first/prev/next/last, each the same query with another page."""
    last = max(1, -(-total // per_page))
    pages = {"first": 1, "last": last}
    if page > 1:
        pages["prev"] = min(page - 1, last)
    if page < last:
        pages["next"] = page + 1
    query = [(key, value) for key, value in request.args.items(multi=True) if key != "page"]
    links = []
    for rel in ("first", "prev", "next", "last"):
        if rel in pages:
            url = quote(request.path) + "?" + urlencode([*query, ("page", str(pages[rel]))])
            links.append(f'<{url}>; rel="{rel}"')
    return ", ".join(links)


def content_disposition(filename: str) -> str:
    """RFC 6266: an ASCII fallback and the exact name as RFC 8187 UTF-8."""
    fallback = "".join(ch for ch in unicodedata.normalize("NFKD", filename)
                       if 32 <= ord(ch) < 127 and ch not in '"\\') or "download"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def with_etag(resource: dict[str, Any], status: int = 200,
              headers: dict[str, str] | None = None) -> Response:
    return json_response(resource, status, {**(headers or {}), "ETag": f'"{resource["version"]}"'})


def versioned(request: Request, body: object) -> object:
    """The body with `version` taken from If-Match when the body does not say it."""
    if isinstance(body, dict) and "version" not in body and if_match(request) is not None:
        body["version"] = if_match(request)
    return body


def if_match(request: Request) -> int | None:
    raw = request.headers.get("If-Match", "").strip().removeprefix("W/").strip('"')
    return int(raw) if raw.isdigit() else None
