"""Log lines: JSON with the service and request id; ids from clients are checked; no tokens."""

from __future__ import annotations

import io
import json
import logging

import eventlet
from pythonjsonlogger.json import JsonFormatter

from common import logs
from common.auth import Caller
from common.idempotency import fingerprint, valid_key


def test_a_json_log_line_has_the_fields_and_the_extras():
    stream = io.StringIO()
    options = dict(logs.logging_config("INFO", "json")["formatters"]["json"])
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(**{k: v for k, v in options.items() if k != "()"}))
    handler.addFilter(logs.ContextFilter())
    logger = logging.getLogger("cxc.test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)

    def in_a_worker():
        logs.bind("req-1", "registration")
        logging.getLogger("cxc.test").info("hello %s", "world", extra={"status": 201})
        logs.clear()

    try:
        eventlet.spawn(in_a_worker).wait()
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert {k: line[k] for k in ("level", "logger", "message", "service", "request_id", "status")} == {
        "level": "INFO", "logger": "cxc.test", "message": "hello world",
        "service": "registration", "request_id": "req-1", "status": 201}
    assert line["timestamp"].startswith("20")


def test_the_request_id_is_per_green_thread():
    seen = {}

    def worker(name):
        logs.bind(name)
        eventlet.sleep(0)
        seen[name] = logs.current_request_id()

    pool = eventlet.GreenPool()
    for name in ("a", "b", "c"):
        pool.spawn(worker, name)
    pool.waitall()
    assert seen == {"a": "a", "b": "b", "c": "c"}


def test_client_request_ids_are_kept_only_when_sane():
    assert logs.request_id_from("abc-DEF_1.2") == "abc-DEF_1.2"
    for bad in (None, "", "a" * 129, "new\nline", "späť"):
        assert len(logs.request_id_from(bad)) == 32


def test_a_callers_repr_hides_its_token():
    caller = Caller("acc-1", frozenset({"participant"}), token="eyJhbGciOi.secret.sig")
    assert "secret" not in repr(caller) and "secret" not in str(caller)


def test_idempotency_keys_and_fingerprints():
    assert valid_key("a" * 255) and valid_key("9f0c-…"[:4])
    assert not valid_key("") and not valid_key("a" * 256) and not valid_key("é")
    assert fingerprint({"b": 1, "a": [1, 2]}) == fingerprint({"a": [1, 2], "b": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})
    assert fingerprint({"a": 1, "password": "x"}, ("password",)) == fingerprint({"a": 1})
