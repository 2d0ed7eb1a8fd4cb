"""Logs: one JSON object a line (LOG_FORMAT=plain for reading locally), each with the
service and the request id.

The request id is accepted from the client's `X-Request-ID` or made at the gateway, and
travels in the RPC context data and in event headers (`nameko.request_id`). Every worker
binds the id of what it serves to its green thread (`RequestContext`), and a log record
factory stamps each record with it, so a plain `log.info(...)` anywhere carries it.

nameko logs an expected error (`expected_exceptions`) at WARNING with a traceback; the
filter below turns that into INFO without one for a caller's mistake (4xx) and WARNING
without one for an expected 5xx (503, 504). Unexpected errors keep their one traceback.
"""

from __future__ import annotations

import logging
import logging.config
import re
import uuid
from typing import Any

from eventlet.corolocal import local
from nameko.extensions import DependencyProvider

_context = local()
_process = {"service": "-"}
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


def new_request_id() -> str:
    return uuid.uuid4().hex


def request_id_from(raw: str | None) -> str:
    """The client's request id when it is a sane one, else a new one."""
    if raw and _REQUEST_ID.fullmatch(raw):
        return raw
    return new_request_id()


def current_request_id() -> str | None:
    return getattr(_context, "request_id", None)


def bind(request_id: str | None, service: str | None = None) -> None:
    _context.request_id = request_id
    _context.service = service


def clear() -> None:
    bind(None, None)


def _stamp(record: logging.LogRecord) -> logging.LogRecord:
    if not hasattr(record, "request_id"):
        record.request_id = getattr(_context, "request_id", None)
    if not hasattr(record, "service"):
        record.service = getattr(_context, "service", None) or _process["service"]
    return record


_base_factory = logging.getLogRecordFactory()


def _record_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    return _stamp(_base_factory(*args, **kwargs))


_record_factory.cxc = True  # type: ignore[attr-defined]


class ContextFilter(logging.Filter):
    """On handlers: fills in service and request id for records made before the factory."""

    def filter(self, record: logging.LogRecord) -> bool:
        _stamp(record)
        return True


class ExpectedErrors(logging.Filter):
    """On nameko's container logger: an expected error is news, not a crash."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not (isinstance(record.msg, str) and record.msg.startswith("(expected)")
                and record.exc_info):
            return True
        exc = record.exc_info[1]
        status = int(getattr(exc, "status", 500))
        record.levelno = logging.INFO if status < 500 else logging.WARNING
        record.levelname = logging.getLevelName(record.levelno)
        record.msg = "expected error handling worker %s: %s"
        record.exc_info = record.exc_text = None
        record.status = status
        record.error = type(exc).__name__
        return logging.getLogger(record.name).isEnabledFor(record.levelno)


def install() -> None:
    """Idempotent: the record factory and the expected-error filter."""
    if not getattr(logging.getLogRecordFactory(), "cxc", False):
        logging.setLogRecordFactory(_record_factory)
    containers = logging.getLogger("nameko.containers")
    if not any(isinstance(f, ExpectedErrors) for f in containers.filters):
        containers.addFilter(ExpectedErrors())


def logging_config(level: str = "INFO", fmt: str = "json") -> dict[str, Any]:
    """The dictConfig for a process; `fmt` is "json" (default) or "plain"."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "common.logs.ContextFilter"}},
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(levelname)s %(name)s %(message)s %(service)s %(request_id)s",
                "rename_fields": {"levelname": "level", "name": "logger"},
                "timestamp": True,
            },
            "plain": {"format": "%(asctime)s %(levelname)s %(service)s %(name)s "
                                "[%(request_id)s] %(message)s"},
        },
        "handlers": {"console": {"class": "logging.StreamHandler",
                                 "formatter": "plain" if fmt == "plain" else "json",
                                 "filters": ["context"]}},
        "root": {"level": level, "handlers": ["console"]},
        # eventlet's wsgi server logs every request line; the gateway logs its own.
        # nameko.runners says "starting/stopping services" and kombu "Connected to" per
        # process: cli.serve says once that a process is ready, common.rpc when its broker
        # connection is back.
        "loggers": {"nameko.web.server": {"level": "WARNING"},
                    "nameko.runners": {"level": "WARNING"},
                    "kombu.mixins": {"level": "WARNING"}},
    }


def configure(config: dict[str, Any]) -> None:
    """Logging for one process from its nameko config."""
    _process["service"] = config.get("SERVICE_NAME") or "-"
    install()
    if config.get("LOGGING"):
        logging.config.dictConfig(config["LOGGING"])


class RequestContext(DependencyProvider):
    """`request_context = RequestContext()` on a service: its workers' logs carry the
    request id they serve (from the RPC context data or the event's headers)."""

    def setup(self) -> None:
        install()

    def worker_setup(self, worker_ctx: Any) -> None:
        bind(worker_ctx.context_data.get("request_id"), self.container.service_name)

    def worker_teardown(self, worker_ctx: Any) -> None:
        clear()

    def get_dependency(self, worker_ctx: Any) -> str | None:
        return worker_ctx.context_data.get("request_id")


install()
