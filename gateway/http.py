"""The gateway's HTTP entrypoint: routes that document themselves, RFC 9457 problems, metrics."""

from __future__ import annotations

import functools
import json
import logging
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer, WsgiApp
from prometheus_client import Counter, Histogram
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from common.errors import PROBLEMS_PATH, AppError, NotFound
from common.logs import bind, clear, request_id_from
from common.metrics import child
from common.rpc import BROKER_ERRORS
from gateway.requests import bearer_token

log = logging.getLogger(__name__)
access_log = logging.getLogger("gateway.access")

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
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
    content: str | tuple[str, ...] = "application/json"
    body_content: str = "application/json"
    hidden: bool = False
    idempotent: bool = False  # accepts an Idempotency-Key header (POSTs that create)
    rpc: bool = True  # answers 503/504 when a service behind it is down or slow
    links: dict[str, Any] = field(default_factory=dict)  # OpenAPI links of the success response
    same_body: tuple[int, ...] = ()  # other statuses answered with the success body (health: 503)
    location: bool = False  # the success response carries Location
    form_files: tuple[str, ...] = ()  # the body may also come as multipart/form-data with these files


ROUTES: list[RouteSpec] = []


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(payload, default=str, separators=(",", ":")), status=status,
                    headers=headers, mimetype="application/json")


def problem_response(status: int, title: str, detail: str, errors: dict | None = None,
                     slug: str = "") -> Response:
    """A problem document; its `type` is one of this gateway's /problems pages, or
    about:blank (titled with the HTTP status phrase) for plain HTTP errors."""
    if not slug:
        title = HTTP_STATUS_CODES.get(status, title)
    body: dict[str, Any] = {"type": f"{PROBLEMS_PATH}/{slug}" if slug else "about:blank",
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

    def __init__(self, server: ProblemWebServer) -> None:
        super().__init__(server)
        self.providers = {(p.method, p.url): p for p in server._providers}

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
                endpoint, values = adapter.match()
                provider = self.providers[endpoint]
                route = provider.url
                environ["cxc.route"] = (provider.method, provider.url)
                request.path_values = values
                response = provider.handle_request(request)
            except HTTPException as exc:
                response = response_for(exc)
                if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
                    response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
            if response.status_code == 401 and "WWW-Authenticate" not in response.headers:
                # RFC 6750: say how to authenticate, and that a token sent was refused.
                sent = bool(request.headers.get("Authorization"))
                response.headers["WWW-Authenticate"] = (
                    'Bearer realm="clusterxchange"' + (', error="invalid_token"' if sent else ""))
            response.headers["X-Request-ID"] = request_id
            if environ.get(REPLAYED):
                response.headers["Idempotent-Replayed"] = "true"
            method = environ.get("REQUEST_METHOD", "GET")
            elapsed = time.perf_counter() - started
            # Any token is a method to the HTTP parser: one series per invented one would grow
            # without end.
            label = method if method in _METHODS else "OTHER"
            child(LATENCY, label, route).observe(elapsed)
            child(REQUESTS, label, route, str(response.status_code)).inc()
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

    def make_url_map(self) -> Map:
        """The routes' map, its rules naming their route as (method, url): compiling ~200
        werkzeug rules took ~0.1 s of CPU per start, so a process builds each set of routes
        once (the tests start a gateway per test). Sorted: extensions register in any order."""
        return _url_map(tuple(sorted((p.method, p.url) for p in self._providers)))

    def process_request(self, sock: Any, address: Any) -> None:
        """Without TCP_NODELAY a response written in two pieces (a chunked body's last chunk)
        waits for the client's delayed ACK: ~40 ms added to every such response."""
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass  # not a TCP socket (tests may hand a Unix socket)
        super().process_request(sock, address)

    def context_data_from_headers(self, request: Request) -> dict[str, Any]:
        """The request id travels to the worker, its RPCs and the events they cause."""
        return {"request_id": request.environ.get("cxc.request_id")}


@functools.lru_cache(maxsize=4)
def _url_map(routes: tuple[tuple[str, str], ...]) -> Map:
    return Map([Rule(url, methods=method.split(","), endpoint=(method, url)) for method, url in routes])


class Api(HttpRequestHandler):
    server = ProblemWebServer()

    def __init__(self, method: str, url: str, **kwargs: Any) -> None:
        super().__init__(method, url, expected_exceptions=(AppError,), **kwargs)

    def response_from_exception(self, exc: Exception) -> Response:
        return response_for(exc)

    def check_signature(self, args: tuple, kwargs: dict) -> None:
        """Routes take the request and the path's values, which werkzeug matched already;
        nameko's check (inspect.getcallargs) cost ~3 % of the gateway's CPU per request."""


def api(method: str, url: str, summary: str, **meta: Any) -> Any:
    """`@api("GET", "/api/v1/x/<id>", "Read an x", response=XSchema)`: a route and its docs.

    Before the route reads anything: path values that cannot name anything are 404, and on
    authenticated routes the token is checked (401 comes before any 400/413/415 about a body).
    """
    spec = RouteSpec(method, url, summary, **meta)
    ROUTES.append(spec)
    register = Api.decorator(method, url)

    def decorate(fn: Any) -> Any:
        @functools.wraps(fn)
        def route(self: Any, request: Request, *args: str, **values: str) -> Any:
            if any("\x00" in value for value in (*args, *values.values())):
                raise NotFound("No such resource.")
            if spec.auth:
                bearer_token(request, self.tokens)
            return fn(self, request, *args, **values)

        return register(route)

    return decorate
