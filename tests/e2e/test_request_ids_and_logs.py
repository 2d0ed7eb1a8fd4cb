"""Request ids from the client to every service's logs, quiet expected errors, no tokens."""

from __future__ import annotations

import logging

import pytest

from tests.helpers import PASSWORD, sign_up, unique_email

pytestmark = pytest.mark.e2e


def _records_of(caplog, request_id: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "request_id", None) == request_id]


def test_the_clients_request_id_reaches_the_gateway_and_the_services_logs(api, caplog):
    _, headers = sign_up(api)
    caplog.set_level(logging.INFO)
    response = api.post("/api/v1/registrations", json={"roles": ["visitor"]},
                        headers={**headers, "X-Request-ID": "req-42.a_b"})
    assert response.status_code == 422
    assert response.headers["X-Request-ID"] == "req-42.a_b"
    mine = _records_of(caplog, "req-42.a_b")
    services = {r.service for r in mine}
    assert {"gateway", "registration"} <= services, [(r.service, r.getMessage()) for r in mine]
    access = [r for r in mine if r.name == "gateway.access"]
    assert [(r.method, r.status) for r in access] == [("POST", 422)]


def test_an_expected_error_is_logged_at_info_without_a_traceback(api, caplog):
    caplog.set_level(logging.DEBUG)
    api.post("/api/v1/accounts", json={"email": "nope"}, headers={"X-Request-ID": "bad-signup"})
    errors = [r for r in _records_of(caplog, "bad-signup") if r.name == "nameko.containers"
              and "error handling worker" in r.getMessage()]
    assert {r.service for r in errors} == {"gateway", "registration"}
    assert all(r.levelno == logging.INFO and r.exc_info is None and r.status == 422
               for r in errors), [(r.levelname, r.exc_info) for r in errors]
    assert "Traceback" not in caplog.text


def test_a_missing_or_malformed_request_id_is_replaced_by_a_fresh_one(api):
    generated = api.get("/health").headers["X-Request-ID"]
    assert len(generated) == 32 and int(generated, 16) >= 0
    for bad in ("x" * 129, "has space", "semi;colon"):
        echoed = api.get("/health", headers={"X-Request-ID": bad}).headers["X-Request-ID"]
        assert echoed != bad and len(echoed) == 32


def test_a_token_never_appears_in_the_logs(api, caplog):
    caplog.set_level(logging.DEBUG)
    email = unique_email()
    api.post("/api/v1/accounts", json={"email": email, "password": PASSWORD, "full_name": "A"})
    token = api.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD}).json()[
        "access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert api.post("/api/v1/registrations", json={"roles": ["bogus"]}, headers=bearer).status_code == 422
    assert api.get("/api/v1/registrations/nope", headers=bearer).status_code == 404
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}x"}).status_code == 401
    assert PASSWORD not in caplog.text
    assert token not in caplog.text
    assert token[-20:] not in caplog.text
