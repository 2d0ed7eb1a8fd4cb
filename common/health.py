"""How a service process is: liveness, readiness and metrics on a small HTTP port of its own.

`cli.serve` adds a `HealthServer` to every service it runs (and to the gateway), listening on
HEALTH_PORT (no port, no server):

- `GET /livez`: 200 while the process serves its event loop (answering at all proves it).
  For a liveness probe: a process that stops answering is restarted.
- `GET /readyz`: 200 when every check passes, else 503 with what failed: the database
  answers `SELECT 1`, the process's consumer connection to RabbitMQ is up (a process whose
  connection dropped consumes nothing until it reconnects), and whatever the service's own
  extensions add (below). For a readiness probe and compose's healthcheck.
- `GET /metrics`: Prometheus text: RPC calls and errors per method, event handling time
  and failures per handler, outbox backlog and the age of the oldest unsent event, parked
  events, the broker connection (common.metrics).

A service adds to readiness and metrics without touching this module: any extension of its
container (typically a DependencyProvider, e.g. matching's catalogue index) may implement

    def readiness(self) -> str | None      # None when ready, else why not ("index not built")
    def report_metrics(self) -> None       # set its gauges (common.metrics) before a scrape

The gateway's `/health` stays the aggregate view of the whole system; it is no liveness
probe (a broker outage would restart every gateway).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

import eventlet
import eventlet.wsgi
from kombu import Connection
from nameko.events import EventHandler
from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc as RpcEntrypoint
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select, text

from common import metrics
from common.db import Database, utcnow
from common.events import consuming_services
from common.outbox import OutboxRelay
from common.parking import parked_count
from common.rpc import QuickReconnectQueueConsumer

log = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 2.0


class _QuietLog:
    """eventlet.wsgi's access log: probes every few seconds are not news."""

    def write(self, _line: str) -> None:
        pass


class HealthServer(DependencyProvider):
    """`/livez`, `/readyz` and `/metrics` of the container's process; RPC and event metrics."""

    def __init__(self) -> None:
        self._started: WeakKeyDictionary = WeakKeyDictionary()
        self._server = None
        self.port: int | None = None

    # --- nameko lifecycle ------------------------------------------------------------

    def setup(self) -> None:
        self.service = self.container.service_name
        raw = str(self.container.config.get("HEALTH_PORT") or "").strip()
        self.port = int(raw) if raw else None
        self.host = self.container.config.get("HEALTH_HOST") or "0.0.0.0"  # noqa: S104 - probes come from outside

    def start(self) -> None:
        if self.port is None:
            return
        sock = eventlet.listen((self.host, self.port))
        self.port = sock.getsockname()[1]
        self._server = self.container.spawn_managed_thread(
            lambda: eventlet.wsgi.server(sock, self.app, log=_QuietLog(), log_output=False,
                                         socket_timeout=10),
            identifier="health_server")

    def stop(self) -> None:
        if self._server is not None:
            self._server.kill()
            self._server = None

    def kill(self) -> None:
        self.stop()

    # --- metrics of every worker -----------------------------------------------------

    def worker_setup(self, worker_ctx: Any) -> None:
        self._started[worker_ctx] = time.perf_counter()

    def worker_result(self, worker_ctx: Any, result: Any = None, exc_info: Any = None) -> None:
        started = self._started.pop(worker_ctx, None)
        finished = getattr(worker_ctx, "handler_finished_at", None) or time.perf_counter()
        elapsed = finished - started if started is not None else 0.0
        entrypoint = worker_ctx.entrypoint
        method = entrypoint.method_name
        if isinstance(entrypoint, EventHandler):
            metrics.child(metrics.EVENT_SECONDS, self.service, method).observe(elapsed)
            if exc_info is not None:
                metrics.EVENT_FAILURES.labels(self.service, method).inc()
        elif isinstance(entrypoint, RpcEntrypoint):
            metrics.child(metrics.RPC_CALLS, self.service, method).inc()
            metrics.child(metrics.RPC_SECONDS, self.service, method).observe(elapsed)
            if exc_info is not None:
                metrics.RPC_ERRORS.labels(self.service, method, exc_info[0].__name__).inc()

    # --- checks ----------------------------------------------------------------------

    def _extensions(self) -> set[Any]:
        """The container's other extensions (those that may implement the hooks)."""
        return set(self.container.extensions) - {self}

    def _consumers(self) -> list[QuickReconnectQueueConsumer]:
        return [ext for ext in self._extensions() if isinstance(ext, QuickReconnectQueueConsumer)]

    def _database(self) -> Database | None:
        return next((dep for dep in self.container.dependencies if isinstance(dep, Database)), None)

    def checks(self) -> dict[str, str]:
        """Each readiness check: "ok" or why not."""
        results: dict[str, str] = {}
        database = self._database()
        if database is not None:
            results["database"] = _timed(lambda: _select_one(database))
        results["broker"] = self._broker_check()
        for ext in self._extensions():
            if hasattr(ext, "readiness") and callable(ext.readiness):
                name = getattr(ext, "attr_name", None) or type(ext).__name__
                results[name] = _timed(lambda ext=ext: ext.readiness() or "ok")
        return results

    def _broker_check(self) -> str:
        consumers = self._consumers()
        connected = all(consumer.broker_connected for consumer in consumers) if consumers else None
        metrics.BROKER_CONNECTED.labels(self.service).set(1 if connected else 0)
        if connected is None:  # nothing consumes: can a connection be made at all?
            return _timed(lambda: _connect(self.container.config["AMQP_URI"]))
        return "ok" if connected else "the consumer connection to RabbitMQ is down"

    def evaluate(self) -> tuple[bool, dict[str, str]]:
        results = self.checks()
        ready = all(value == "ok" for value in results.values())
        metrics.READY.labels(self.service).set(1 if ready else 0)
        for name, value in results.items():
            metrics.CHECK_OK.labels(self.service, name).set(1 if value == "ok" else 0)
        return ready, results

    def collect(self) -> None:
        """Refresh the gauges that are read at scrape time."""
        self.evaluate()
        self._outbox()
        self._parked()
        for ext in self._extensions():
            if hasattr(ext, "report_metrics") and callable(ext.report_metrics):
                try:
                    ext.report_metrics()
                except Exception:
                    log.warning("metrics hook of %s failed", type(ext).__name__, exc_info=True)

    def _outbox(self) -> None:
        relay = next((dep for dep in self.container.dependencies if isinstance(dep, OutboxRelay)),
                     None)
        if relay is None:
            return
        model = relay.model
        try:
            with eventlet.Timeout(CHECK_TIMEOUT_SECONDS), relay.database.engine.connect() as conn:
                count, oldest = conn.execute(select(func.count(), func.min(model.created_at))
                                             .where(model.sent_at.is_(None))).one()
        except (Exception, eventlet.Timeout):
            log.debug("outbox metrics unavailable", exc_info=True)
            return
        metrics.OUTBOX_BACKLOG.labels(self.service).set(count)
        metrics.OUTBOX_OLDEST_AGE.labels(self.service).set(_age(oldest))

    def _parked(self) -> None:
        if self.service not in consuming_services():
            return
        try:
            with eventlet.Timeout(CHECK_TIMEOUT_SECONDS), Connection(
                    self.container.config["AMQP_URI"], connect_timeout=CHECK_TIMEOUT_SECONDS) as conn:
                conn.ensure_connection(max_retries=0)
                count = parked_count(conn, self.service)
        except (Exception, eventlet.Timeout):
            log.debug("parked count unavailable", exc_info=True)
            return
        metrics.PARKED.labels(self.service).set(count or 0)

    # --- HTTP ------------------------------------------------------------------------

    def app(self, environ: dict, start_response: Callable) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return _respond(start_response, 405, {"detail": "GET only"})
        if path == "/livez":
            return _respond(start_response, 200, {"status": "alive", "service": self.service})
        if path == "/readyz":
            ready, results = self.evaluate()
            return _respond(start_response, 200 if ready else 503,
                            {"status": "ready" if ready else "not ready", "service": self.service,
                             "checks": results})
        if path == "/metrics":
            self.collect()
            body = generate_latest()
            start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST),
                                      ("Content-Length", str(len(body)))])
            return [body]
        return _respond(start_response, 404, {"detail": "try /livez, /readyz or /metrics"})

    def get_dependency(self, worker_ctx: Any) -> HealthServer:
        return self


def with_health(service_cls: type) -> type:
    """The service class with a HealthServer, under the same name (what `cli.serve` runs)."""
    if any(isinstance(value, HealthServer) for value in vars(service_cls).values()):
        return service_cls
    return type(service_cls.__name__, (service_cls,), {"health_server": HealthServer(),
                                                      "__module__": service_cls.__module__})


def _respond(start_response: Callable, status: int, payload: dict[str, Any]) -> list[bytes]:
    body = json.dumps(payload).encode()
    reason = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}
    start_response(f"{status} {reason[status]}", [("Content-Type", "application/json"),
                                                  ("Content-Length", str(len(body))),
                                                  ("Cache-Control", "no-store")])
    return [body]


def _timed(check: Callable[[], str]) -> str:
    try:
        with eventlet.Timeout(CHECK_TIMEOUT_SECONDS):
            return check()
    except eventlet.Timeout:
        return f"no answer within {CHECK_TIMEOUT_SECONDS:g}s"
    except Exception as exc:
        return f"error: {exc.__class__.__name__}"


def _select_one(database: Database) -> str:
    with database.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return "ok"


def _connect(amqp_uri: str) -> str:
    with Connection(amqp_uri, connect_timeout=CHECK_TIMEOUT_SECONDS) as conn:
        conn.ensure_connection(max_retries=0)
    return "ok"


def _age(oldest: datetime | None) -> float:
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:  # SQLite through a plain Core query
        from datetime import UTC

        oldest = oldest.replace(tzinfo=UTC)
    return max(0.0, (utcnow() - oldest).total_seconds())

