"""API keys of partnership back-offices: created, listed and revoked by the partnership's
contact point; a key reads its own partnership's registrations and exchanges, changes
nothing, and stops working within seconds of its revocation."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.e2e.test_matching_journey import _accepted
from tests.e2e.test_sign_out import another_gateway, wait_for  # noqa: F401 - a fixture
from tests.helpers import login, make_account, partnership_id, registration_payload, sign_up, unique_email

pytestmark = pytest.mark.e2e


def _contact(api, db_engines, code: str) -> dict[str, str]:
    email = unique_email(f"contact-{code.lower()}")
    make_account(db_engines["registration"], email, ["partnership_contact"], code)
    return login(api, email)


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_key_reads_its_partnership_only_until_revoked(api, db_engines, another_gateway):  # noqa: F811
    other_gateway = another_gateway()
    greenmob = partnership_id(db_engines["registration"], "GREENMOB")
    texcirc = partnership_id(db_engines["registration"], "TEXCIRC")
    contact = _contact(api, db_engines, "GREENMOB")
    _participant, ours = _accepted(api, contact, greenmob, "PT", ["visitor"], "Textiles.")
    _e, stranger = sign_up(api)
    theirs = api.post("/api/v1/registrations", json=registration_payload(texcirc),
                      headers=stranger).json()["id"]

    created = api.post("/api/v1/api-keys", json={"name": "CRM sync"}, headers=contact)
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key.startswith(created.json()["prefix"] + ".")
    backoffice = _bearer(key)

    listed = api.get("/api/v1/registrations", headers=backoffice)
    assert listed.status_code == 200, listed.text
    assert [r["id"] for r in listed.json()] == [ours]
    assert api.get(f"/api/v1/registrations/{ours}", headers=backoffice).status_code == 200
    assert other_gateway.get(f"/api/v1/registrations/{ours}", headers=backoffice).status_code == 200
    assert api.get(f"/api/v1/registrations/{theirs}", headers=backoffice).status_code == 404
    assert api.get("/api/v1/exchanges", headers=backoffice).status_code == 200
    # Read-only: no assessment, no edit, no new registration, no keys of its own.
    assert api.post(f"/api/v1/registrations/{ours}/assessment", json={"decision": "reject"},
                    headers=backoffice).status_code == 403
    assert api.patch(f"/api/v1/registrations/{ours}", json={"motivation": "x", "version": 1},
                     headers=backoffice).status_code == 403
    assert api.post("/api/v1/registrations", json=registration_payload(greenmob),
                    headers=backoffice).status_code == 403
    assert api.post("/api/v1/api-keys", json={"name": "more"}, headers=backoffice).status_code == 403
    assert api.post("/api/v1/account/sign-out", headers=backoffice).status_code == 403

    key_id = created.json()["id"]
    assert api.delete(f"/api/v1/api-keys/{key_id}", headers=contact).status_code == 204
    assert api.get("/api/v1/registrations", headers=backoffice).status_code == 401
    wait_for(lambda: other_gateway.get("/api/v1/registrations",
                                       headers=backoffice).status_code == 401)
    [listed_key] = api.get("/api/v1/api-keys", headers=contact).json()
    assert listed_key["revoked_at"] is not None and "key" not in listed_key
    assert api.delete(f"/api/v1/api-keys/{key_id}", headers=contact).status_code == 204


def test_only_the_partnerships_contact_point_manages_its_keys(api, db_engines):
    greenmob_contact = _contact(api, db_engines, "GREENMOB")
    texcirc_contact = _contact(api, db_engines, "TEXCIRC")
    _e, participant = sign_up(api)
    created = api.post("/api/v1/api-keys", json={"name": "ERP"}, headers=greenmob_contact).json()

    assert api.post("/api/v1/api-keys", json={"name": "x"}, headers=participant).status_code == 403
    assert api.get("/api/v1/api-keys", headers=participant).status_code == 403
    assert api.delete(f"/api/v1/api-keys/{created['id']}", headers=participant).status_code == 403
    assert api.get("/api/v1/api-keys", headers=texcirc_contact).json() == []
    assert api.delete(f"/api/v1/api-keys/{created['id']}",
                      headers=texcirc_contact).status_code == 404
    assert api.get("/api/v1/registrations", headers=_bearer(created["key"])).status_code == 200
    assert api.post("/api/v1/api-keys", json={"name": ""},
                    headers=greenmob_contact).status_code == 422
    assert api.post("/api/v1/api-keys", json={"name": "x"}).status_code == 401


def test_a_key_is_stored_only_as_a_hash_and_a_wrong_one_is_refused(api, db_engines):
    contact = _contact(api, db_engines, "GREENMOB")
    created = api.post("/api/v1/api-keys", json={"name": "BI"}, headers=contact).json()
    prefix, secret = created["key"].split(".")
    with db_engines["registration"].connect() as conn:
        rows = [tuple(map(str, row)) for row in conn.execute(text("SELECT * FROM api_keys"))]
        kept = conn.execute(text("SELECT count(*) FROM idempotency_keys WHERE "
                                 "response::text LIKE :s"), {"s": f"%{secret}%"}).scalar()
    assert len(rows) == 1 and not any(secret in value for value in rows[0]) and kept == 0
    listed = api.get("/api/v1/api-keys", headers=contact)
    assert listed.status_code == 200 and secret not in listed.text
    for wrong in (f"{prefix}.{secret[:-1]}x", f"{prefix}.", "cxk_unknown.secret"):
        refused = api.get("/api/v1/registrations", headers=_bearer(wrong))
        assert refused.status_code == 401, wrong
