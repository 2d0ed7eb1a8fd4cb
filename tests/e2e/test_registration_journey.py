"""The registration journey over HTTP through the gateway, with the real broker and database."""

from __future__ import annotations

import json
import time
from typing import Any

import pika
import pytest

from tests.helpers import (
    MINIMAL_PDF,
    docx_bytes,
    exe_bytes,
    login,
    make_account,
    partnership_id,
    registration_payload,
    sign_up,
    unique_email,
)

pytestmark = pytest.mark.e2e


class EventTap:
    """A plain AMQP consumer (pika, not nameko) bound to registration's event exchange."""

    def __init__(self, rabbit_config: dict[str, Any], routing_key: str = "#") -> None:
        params = pika.URLParameters(rabbit_config["AMQP_URI"].replace("pyamqp://", "amqp://"))
        self.connection = pika.BlockingConnection(params)
        self.channel = self.connection.channel()
        self.channel.exchange_declare("registration.events", exchange_type="topic", durable=True)
        self.queue = self.channel.queue_declare("", exclusive=True).method.queue
        self.channel.queue_bind(self.queue, "registration.events", routing_key=routing_key)

    def next(self, timeout: float = 10) -> tuple[Any, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            method, properties, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is not None:
                return properties, json.loads(body)
            self.connection.sleep(0.05)
        raise AssertionError("no event arrived")

    def close(self) -> None:
        self.connection.close()


@pytest.fixture
def greenmob(db_engines: dict[str, Any]) -> str:
    return partnership_id(db_engines["registration"], "GREENMOB")


@pytest.fixture
def contact_headers(api: Any, db_engines: dict[str, Any]) -> dict[str, str]:
    email = unique_email("contact")
    make_account(db_engines["registration"], email, ["partnership_contact"], "GREENMOB")
    return login(api, email)


def _draft_with_cv(api: Any, headers: dict[str, str], partnership: str,
                   existing: dict[str, Any] | None = None) -> dict[str, Any]:
    reg = existing
    if reg is None:
        created = api.post("/api/v1/registrations", json=registration_payload(partnership),
                           headers=headers)
        assert created.status_code == 201, created.text
        reg = created.json()
    uploaded = api.put(f"/api/v1/registrations/{reg['id']}/cv", data=MINIMAL_PDF,
                       headers={**headers, "Content-Type": "application/pdf", "X-Filename": "cv.pdf"})
    assert uploaded.status_code == 200, uploaded.text
    return uploaded.json()


def test_participant_registers_and_contact_point_accepts(api, greenmob, contact_headers, rabbit_config):
    tap = EventTap(rabbit_config, "registration_accepted")
    partnership = api.get(f"/api/v1/partnerships/{greenmob}").json()
    assert [c["email"].split(".")[0] for c in partnership["contact_points"]] == ["contact"]
    try:
        _email, headers = sign_up(api)
        reg = _draft_with_cv(api, headers, greenmob)
        assert reg["cv"]["content_type"] == "application/pdf"
        assert reg["status"] == "draft"

        submitted = api.post(f"/api/v1/registrations/{reg['id']}/submit", headers=headers)
        assert submitted.status_code == 200, submitted.text
        assert submitted.json()["status"] == "submitted"

        queue = api.get("/api/v1/registrations?status=submitted", headers=contact_headers)
        assert [r["id"] for r in queue.json()] == [reg["id"]]
        assert queue.headers["X-Total-Count"] == "1"

        accepted = api.post(f"/api/v1/registrations/{reg['id']}/assessment",
                            json={"decision": "accept"}, headers=contact_headers)
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["status"] == "accepted"

        properties, event = tap.next()
        assert event["event_type"] == "registration_accepted"
        assert event["registration_id"] == reg["id"]
        assert event["event_id"] and properties.message_id == event["event_id"]
        assert event["version"] == 1 and event["occurred_at"]
        assert "date_of_birth" not in json.dumps(event)

        mine = api.get(f"/api/v1/registrations/{reg['id']}", headers=headers)
        assert mine.json()["status"] == "accepted"
        assert mine.json()["assessment"]["decision"] == "accept"
        cv = api.get(f"/api/v1/registrations/{reg['id']}/cv", headers=headers)
        assert cv.status_code == 200 and cv.content == MINIMAL_PDF
    finally:
        tap.close()


def test_other_participant_gets_404_for_registration_and_cv(api, greenmob):
    _e, owner = sign_up(api, "owner")
    reg = _draft_with_cv(api, owner, greenmob)
    _e, stranger = sign_up(api, "stranger")
    assert api.get(f"/api/v1/registrations/{reg['id']}", headers=stranger).status_code == 404
    assert api.get(f"/api/v1/registrations/{reg['id']}/cv", headers=stranger).status_code == 404
    assert api.get("/api/v1/registrations", headers=stranger).json() == []
    patched = api.patch(f"/api/v1/registrations/{reg['id']}", json={"motivation": "x", "version": 1},
                        headers=stranger)
    assert patched.status_code == 404


def test_contact_point_of_another_partnership_cannot_see_or_assess(api, greenmob, db_engines):
    _e, owner = sign_up(api)
    reg = _draft_with_cv(api, owner, greenmob)
    api.post(f"/api/v1/registrations/{reg['id']}/submit", headers=owner)
    other = unique_email("othercontact")
    make_account(db_engines["registration"], other, ["partnership_contact"], "TEXCIRC")
    headers = login(api, other)
    assert api.get(f"/api/v1/registrations/{reg['id']}", headers=headers).status_code == 404
    assessed = api.post(f"/api/v1/registrations/{reg['id']}/assessment",
                        json={"decision": "accept"}, headers=headers)
    assert assessed.status_code == 404


def test_participant_calling_assessment_gets_403(api, greenmob):
    _e, headers = sign_up(api)
    reg = _draft_with_cv(api, headers, greenmob)
    api.post(f"/api/v1/registrations/{reg['id']}/submit", headers=headers)
    response = api.post(f"/api/v1/registrations/{reg['id']}/assessment",
                        json={"decision": "accept"}, headers=headers)
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "application/problem+json"


def test_malformed_json_gets_400(api):
    _e, headers = sign_up(api)
    response = api.post("/api/v1/registrations", data=b'{"roles": [', headers={
        **headers, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["status"] == 400


def test_missing_field_gets_422_naming_it(api, greenmob):
    _e, headers = sign_up(api)
    payload = registration_payload(greenmob)
    del payload["organisation"]["country"]
    response = api.post("/api/v1/registrations", json=payload, headers=headers)
    assert response.status_code == 422
    assert "organisation.country" in response.json()["errors"]


def test_oversized_cv_gets_413_and_fake_pdf_gets_415(api, greenmob):
    _e, headers = sign_up(api)
    reg = api.post("/api/v1/registrations", json=registration_payload(greenmob), headers=headers).json()
    big = MINIMAL_PDF + b"0" * (6 * 1024 * 1024)
    too_big = api.put(f"/api/v1/registrations/{reg['id']}/cv", data=big,
                      headers={**headers, "Content-Type": "application/pdf"})
    assert too_big.status_code == 413
    fake = api.put(f"/api/v1/registrations/{reg['id']}/cv",
                   files={"file": ("cv.pdf", exe_bytes(), "application/pdf")}, headers=headers)
    assert fake.status_code == 415
    assert api.get(f"/api/v1/registrations/{reg['id']}", headers=headers).json()["cv"] is None


def test_docx_cv_is_accepted_as_multipart(api, greenmob):
    _e, headers = sign_up(api)
    reg = api.post("/api/v1/registrations", json=registration_payload(greenmob), headers=headers).json()
    response = api.put(f"/api/v1/registrations/{reg['id']}/cv",
                       files={"file": ("cv.docx", docx_bytes(), "application/octet-stream")},
                       headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["cv"]["filename"] == "cv.docx"
    assert response.json()["cv"]["content_type"].endswith("wordprocessingml.document")


def test_stale_version_gets_409(api, greenmob):
    _e, headers = sign_up(api)
    reg = api.post("/api/v1/registrations", json=registration_payload(greenmob), headers=headers).json()
    first = api.patch(f"/api/v1/registrations/{reg['id']}",
                      json={"motivation": "First edit", "version": reg["version"]}, headers=headers)
    assert first.status_code == 200 and first.json()["version"] == reg["version"] + 1
    stale = api.patch(f"/api/v1/registrations/{reg['id']}", json={"motivation": "Second edit"},
                      headers={**headers, "If-Match": f'"{reg["version"]}"'})
    assert stale.status_code == 409
    assert api.get(f"/api/v1/registrations/{reg['id']}", headers=headers).json()["motivation"] == "First edit"


def test_submitting_an_ineligible_registration_explains_each_rule(api, greenmob):
    _e, headers = sign_up(api)
    payload = registration_payload(greenmob, country="US")
    payload["organisation"]["type"] = "large_company"
    payload["representative"]["date_of_birth"] = "2015-01-01"
    reg = api.post("/api/v1/registrations", json=payload, headers=headers).json()
    response = api.post(f"/api/v1/registrations/{reg['id']}/submit", headers=headers)
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert set(errors) >= {"organisation.country", "roles", "representative.date_of_birth", "cv"}
    explained = api.get(f"/api/v1/registrations/{reg['id']}/eligibility", headers=headers).json()
    assert explained["eligible"] is False
    assert any(rule["passed"] for rule in explained["rules"])


def test_changes_requested_then_resubmitted(api, greenmob, contact_headers):
    _e, headers = sign_up(api)
    reg = _draft_with_cv(api, headers, greenmob)
    api.post(f"/api/v1/registrations/{reg['id']}/submit", headers=headers)
    no_comment = api.post(f"/api/v1/registrations/{reg['id']}/assessment",
                          json={"decision": "request_changes"}, headers=contact_headers)
    assert no_comment.status_code == 422 and "comment" in no_comment.json()["errors"]
    asked = api.post(f"/api/v1/registrations/{reg['id']}/assessment",
                     json={"decision": "request_changes", "comment": "Add your objectives."},
                     headers=contact_headers).json()
    assert asked["status"] == "changes_requested"
    edited = api.patch(f"/api/v1/registrations/{reg['id']}",
                       json={"preferences": {"objectives": ["learn", "explore_markets"]},
                             "version": asked["version"]}, headers=headers)
    assert edited.status_code == 200, edited.text
    assert edited.json()["preferences"]["sectors"] == ["textiles"]
    again = api.post(f"/api/v1/registrations/{reg['id']}/submit", headers=headers)
    assert again.json()["status"] == "submitted"
    twice = api.post(f"/api/v1/registrations/{reg['id']}/assessment", json={"decision": "accept"},
                     headers=contact_headers)
    assert twice.json()["status"] == "accepted"
    replay = api.post(f"/api/v1/registrations/{reg['id']}/assessment", json={"decision": "accept"},
                      headers=contact_headers)
    assert replay.status_code == 409


def test_withdrawn_registration_cannot_be_submitted(api, greenmob):
    _e, headers = sign_up(api)
    reg = _draft_with_cv(api, headers, greenmob)
    withdrawn = api.post(f"/api/v1/registrations/{reg['id']}/withdraw", headers=headers)
    assert withdrawn.json()["status"] == "withdrawn"
    assert api.post(f"/api/v1/registrations/{reg['id']}/submit", headers=headers).status_code == 409
    second = api.post("/api/v1/registrations", json=registration_payload(greenmob), headers=headers)
    assert second.status_code == 201


def test_one_active_registration_per_participant(api, greenmob):
    _e, headers = sign_up(api)
    api.post("/api/v1/registrations", json=registration_payload(greenmob), headers=headers)
    again = api.post("/api/v1/registrations", json=registration_payload(greenmob), headers=headers)
    assert again.status_code == 409
