"""POSTs that create something take an Idempotency-Key: a retry returns the first result."""

from __future__ import annotations

import uuid

import eventlet
import pytest
import requests
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from common.idempotency import fingerprint
from services.registration.models import Account, Registration
from tests.helpers import PASSWORD, partnership_id, registration_payload, sign_up, unique_email

pytestmark = pytest.mark.e2e


def _count(engine, model, *where) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_retried_sign_up_with_the_same_key_returns_the_first_account(api, db_engines):
    body = {"email": unique_email(), "password": PASSWORD, "full_name": "Ana Ferreira"}
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = api.post("/api/v1/accounts", json=body, headers=key)
    again = api.post("/api/v1/accounts", json=body, headers=key)
    assert first.status_code == again.status_code == 202, again.text
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert _count(db_engines["registration"], Account, Account.email == body["email"]) == 1


def test_the_same_key_with_another_body_is_a_conflict(api):
    key = {"Idempotency-Key": "sign-up-1"}
    body = {"email": unique_email(), "password": PASSWORD, "full_name": "Ana Ferreira"}
    assert api.post("/api/v1/accounts", json=body, headers=key).status_code == 202
    other = api.post("/api/v1/accounts", json={**body, "full_name": "Ana F."}, headers=key)
    assert other.status_code == 409
    assert other.json()["type"].endswith("/idempotency-key-reused")


def test_the_password_is_not_kept_in_the_fingerprint(api, db_engines):
    body = {"email": unique_email(), "password": PASSWORD, "full_name": "Ana Ferreira"}
    assert api.post("/api/v1/accounts", json=body,
                    headers={"Idempotency-Key": "k-pw"}).status_code == 202
    with db_engines["registration"].connect() as conn:
        stored = conn.execute(text("SELECT fingerprint, response::text FROM idempotency_keys "
                                   "WHERE key = 'k-pw'")).one()
    assert PASSWORD not in stored.response
    assert stored.fingerprint == fingerprint({"email": body["email"], "full_name": "Ana Ferreira"})


@pytest.mark.parametrize("key", ["x" * 256, "clé", "tab\there", ""])
def test_a_malformed_key_is_refused_naming_the_header(api, key):
    body = {"email": unique_email(), "password": PASSWORD, "full_name": "Ana Ferreira"}
    response = api.post("/api/v1/accounts", json=body, headers={"Idempotency-Key": key})
    assert response.status_code == 422, response.text
    assert "Idempotency-Key" in response.json()["errors"]


def test_keys_are_per_caller(api, db_engines):
    greenmob = partnership_id(db_engines["registration"], "GREENMOB")
    key = {"Idempotency-Key": "my-draft"}
    _, ana = sign_up(api)
    _, bea = sign_up(api)
    first = api.post("/api/v1/registrations", json=registration_payload(greenmob),
                     headers={**ana, **key})
    second = api.post("/api/v1/registrations", json=registration_payload(greenmob),
                      headers={**bea, **key})
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert "Idempotent-Replayed" not in second.headers


def test_concurrent_retries_with_one_key_create_one_registration(api, db_engines):
    greenmob = partnership_id(db_engines["registration"], "GREENMOB")
    _, headers = sign_up(api)
    headers = {**headers, "Idempotency-Key": str(uuid.uuid4())}
    payload = registration_payload(greenmob)

    def post(_: int) -> requests.Response:
        with requests.Session() as session:
            return session.post(api.base + "/api/v1/registrations", json=payload,
                                headers=headers, timeout=30)

    responses = list(eventlet.GreenPool(8).imap(post, range(8)))
    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert len({r.headers["ETag"] for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 7
    registration_id = responses[0].json()["id"]
    account = api.get("/api/v1/me", headers=headers).json()["id"]
    assert _count(db_engines["registration"], Registration,
                  Registration.account_id == account) == 1
    assert api.get(f"/api/v1/registrations/{registration_id}", headers=headers).status_code == 200


def test_the_header_is_documented_on_creating_operations(api):
    document = api.get("/api/v1/openapi.json").json()
    ref = {"$ref": "#/components/parameters/IdempotencyKey"}
    for path in ("/api/v1/accounts", "/api/v1/registrations", "/api/v1/contacts",
                 "/api/v1/contacts/{contact_id}/messages"):
        assert ref in document["paths"][path]["post"]["parameters"], path
    assert ref not in document["paths"]["/api/v1/auth/token"]["post"].get("parameters", [])
