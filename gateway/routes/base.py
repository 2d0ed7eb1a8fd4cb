"""What every group of routes shares: dependencies, the authenticated call, response shapes."""

from __future__ import annotations

from typing import Any

from nameko.dependency_providers import Config
from nameko.extensions import DependencyProvider
from werkzeug.wrappers import Request, Response

from common.auth import TokenService
from common.rpc import Rpc
from common.storage import ObjectStoreProvider
from gateway.http import json_response
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

    def _call(self, request: Request, service: str, method: str, *args: Any) -> Any:
        token = bearer_token(request, self.tokens)
        return self.rpc.call(service, method, *args, auth_token=token)


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
