"""What every group of routes shares: dependencies, the authenticated call, response shapes."""

from __future__ import annotations

from functools import cache
from typing import Any

from nameko.dependency_providers import Config
from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Request, Response

from common.auth import TokenService
from common.errors import ValidationFailed
from common.idempotency import REPLAYED_FIELD, valid_key
from common.logs import RequestContext
from common.rpc import Rpc
from common.storage import ObjectStoreProvider
from gateway.http import REPLAYED, ROUTES, json_response
from gateway.ratelimit import RateLimits
from gateway.requests import bearer_token

V1 = "/api/v1"


class Tokens(DependencyProvider):
    def setup(self) -> None:
        self.tokens = TokenService(self.container.config["JWT"], generate=False)

    def get_dependency(self, worker_ctx: Any) -> TokenService:
        return self.tokens


class Routes:
    """Mixed into the gateway service; route groups subclass it."""

    config = Config()
    rpc = Rpc()
    tokens = Tokens()
    limits = RateLimits()
    store = ObjectStoreProvider()
    request_context = RequestContext()

    def _call(self, request: Request, service: str, method: str, *args: Any,
              auth: bool = True) -> Any:
        """The RPC for a request: its token, and its Idempotency-Key on routes that take one
        (a replayed answer is flagged for the `Idempotent-Replayed` header)."""
        token = bearer_token(request, self.tokens) if auth else None
        kwargs: dict[str, Any] = {}
        if request.environ.get("cxc.route") in _idempotent_routes():
            key = idempotency_key(request)
            if key is not None:
                kwargs["idempotency_key"] = key
        result = self.rpc.call(service, method, *args, auth_token=token, **kwargs)
        if kwargs and isinstance(result, dict) and result.pop(REPLAYED_FIELD, False):
            request.environ[REPLAYED] = True
        return result


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


def paged(result: dict[str, Any]) -> Response:
    return json_response(result["items"], headers={
        "X-Total-Count": str(result["total"]),
        "X-Page": str(result["page"]),
        "X-Per-Page": str(result["per_page"]),
    })


def with_etag(resource: dict[str, Any], status: int = 200,
              headers: dict[str, str] | None = None) -> Response:
    return json_response(resource, status, {**(headers or {}), "ETag": f'"{resource["version"]}"'})


def if_match(request: Request) -> int | None:
    raw = request.headers.get("If-Match", "").strip().removeprefix("W/").strip('"')
    return int(raw) if raw.isdigit() else None
