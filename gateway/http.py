"""The gateway's HTTP entrypoint: routes that document themselves, RFC 9457 problems, metrics."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer, WsgiApp
from prometheus_client import Counter, Histogram
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from common.errors import AppError
from common.logs import bind, clear, request_id_from
from common.rpc import BROKER_ERRORS

log = logging.getLogger(__name__)
access_log = logging.getLogger("gateway.access")

REQUESTS = Counter("cxc_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("cxc_http_request_seconds", "HTTP request latency", ["method", "route"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))

PROBLEM = "application/problem+json"
# When to come back: a rate limit lasts a minute; an outage (503) is usually short.
RETRY_AFTER = {429: "60", 503: "5"}
REPLAYED = "cxc.idempotent_replayed"  # environ flag set by an idempotent replay


@dataclass
class RouteSpec:
    method: str
    path: str
    summary: str
    tags: list[str] = field(default_factory=list)
    body: Any = None
    response: Any = None
    many: bool = False
    status: int = 200
    auth: bool = True
    query: Any = None
    errors: tuple[int, ...] = ()
    content: str = "application/json"
    body_content: str = "application/json"
    hidden: bool = False
    idempotent: bool = False  # accepts an Idempotency-Key header (POSTs that create)


ROUTES: list[RouteSpec] = []


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(payload, default=str, separators=(",", ":")), status=status,
                    headers=headers, mimetype="application/json")


def problem_response(status: int, title: str, detail: str, errors: dict | None = None,
                     slug: str = "") -> Response:
    body: dict[str, Any] = {"type": f"https://clusterxchange.eu/problems/{slug or status}",
                            "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    headers = {"Retry-After": RETRY_AFTER[status]} if status in RETRY_AFTER else None
    return Response(json.dumps(body), status=status, headers=headers, mimetype=PROBLEM)


def response_for(exc: Exception) -> Response:
    if isinstance(exc, AppError):
        problem = exc.to_problem()
        return problem_response(exc.status, problem["title"], problem["detail"],
                                problem.get("errors"), exc.type_slug)
    if isinstance(exc, HTTPException):
        return problem_response(exc.code or 500, exc.name, exc.description or exc.name)
    if isinstance(exc, BROKER_ERRORS):
        log.warning("broker unreachable: %s", exc.__class__.__name__)
        return problem_response(503, "Service unavailable", "The message broker cannot be "
                                "reached; try again shortly.", slug="service-unavailable")
    log.error("unhandled error in gateway: %r", exc)
    return problem_response(500, "Internal error", "Something went wrong on our side.")


class ProblemWsgiApp(WsgiApp):
    """Routing errors (404, 405) as problems too, and every request counted."""

    def __call__(self, environ: dict, start_response: Any) -> Any:
        started = time.perf_counter()
        request_id = request_id_from(environ.get("HTTP_X_REQUEST_ID"))
        environ["cxc.request_id"] = request_id
        bind(request_id, self.server.container.service_name)
        try:
            request = Request(environ, shallow=True)
            adapter = self.url_map.bind_to_environ(environ)
            route = "unmatched"
            try:
                provider, values = adapter.match()
                route = provider.url
                environ["cxc.route"] = (provider.method, provider.url)
                request.path_values = values
                response = provider.handle_request(request)
            except HTTPException as exc:
                response = response_for(exc)
            response.headers["X-Request-ID"] = request_id
            if environ.get(REPLAYED):
                response.headers["Idempotent-Replayed"] = "true"
            method = environ.get("REQUEST_METHOD", "GET")
            elapsed = time.perf_counter() - started
            LATENCY.labels(method, route).observe(elapsed)
            REQUESTS.labels(method, route, str(response.status_code)).inc()
            access_log.info("%s %s %s", method, environ.get("PATH_INFO", ""),
                            response.status_code, extra={
                                "method": method, "path": environ.get("PATH_INFO", ""),
                                "status": response.status_code,
                                "duration_ms": round(elapsed * 1000, 1)})
            return response(environ, start_response)
        finally:
            clear()


class ProblemWebServer(WebServer):
    def get_wsgi_app(self) -> ProblemWsgiApp:
        return ProblemWsgiApp(self)

    def context_data_from_headers(self, request: Request) -> dict[str, Any]:
        """The request id travels to the worker, its RPCs and the events they cause."""
        return {"request_id": request.environ.get("cxc.request_id")}


class Api(HttpRequestHandler):
    server = ProblemWebServer()

    def __init__(self, method: str, url: str, **kwargs: Any) -> None:
        super().__init__(method, url, expected_exceptions=(AppError,), **kwargs)

    def response_from_exception(self, exc: Exception) -> Response:
        return response_for(exc)


def api(method: str, url: str, summary: str, **meta: Any) -> Any:
    """`@api("GET", "/api/v1/x/<id>", "Read an x", response=XSchema)`: a route and its docs."""
    ROUTES.append(RouteSpec(method, url, summary, **meta))
    return Api.decorator(method, url)
