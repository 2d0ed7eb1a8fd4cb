"""From acceptance to a conversation, over HTTP through the gateway."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.test_registration_journey import _draft_with_cv
from tests.helpers import login, make_account, partnership_id, registration_payload, sign_up, unique_email

pytestmark = pytest.mark.e2e


def _accepted(api: Any, contact: dict[str, str], partnership: str, country: str, roles: list[str],
              motivation: str) -> tuple[dict[str, str], str]:
    _email, headers = sign_up(api)
    payload = registration_payload(partnership, country=country, roles=roles, motivation=motivation)
    if "host" in roles:
        payload["preferences"]["host_capacity"] = 2
    created = api.post("/api/v1/registrations", json=payload, headers=headers)
    assert created.status_code == 201, created.text
    reg = _draft_with_cv(api, headers, partnership, existing=created.json())
    assert api.post(f"/api/v1/registrations/{reg['id']}/submit", headers=headers).status_code == 200
    accepted = api.post(f"/api/v1/registrations/{reg['id']}/assessment", json={"decision": "accept"},
                        headers=contact)
    assert accepted.status_code == 200, accepted.text
    return headers, reg["id"]


def _eventually(fetch, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_accepted_participants_match_search_and_talk(api, db_engines):
    greenmob = partnership_id(db_engines["registration"], "GREENMOB")
    contact_email = unique_email("contact")
    make_account(db_engines["registration"], contact_email, ["partnership_contact"], "GREENMOB")
    contact = login(api, contact_email)

    visitor, visitor_reg = _accepted(api, contact, greenmob, "PT", ["visitor"],
                                     "We study circular textile recycling.")
    host, host_reg = _accepted(api, contact, greenmob, "DE", ["host"],
                               "Our members run textile recycling plants.")

    matches = _eventually(lambda: api.get(f"/api/v1/matches?registration_id={visitor_reg}",
                                          headers=visitor).json())
    assert [m["registration_id"] for m in matches] == [host_reg]
    fits = {reason["kind"]: reason for reason in matches[0]["explanation"]["fits"]}
    assert fits["sectors"]["detail"] == "Both work in Textiles."
    assert "textile recycling" in fits["text"]["values"]
    assert round(sum(c["points"] for c in matches[0]["contributions"]), 1) == matches[0]["score"]
    assert matches[0]["profile"]["organisation"]["country"] == "DE"

    search = api.get("/api/v1/catalogue?q=recycling&country=DE", headers=visitor)
    assert search.status_code == 200 and search.headers["X-Total-Count"] == "1"
    assert search.json()[0]["registration_id"] == host_reg
    assert "contact" not in search.json()[0] or search.json()[0]["contact"] is None

    asked = api.post("/api/v1/contacts", json={"registration_id": host_reg, "message": "Visit in March?"},
                     headers=visitor)
    assert asked.status_code == 201, asked.text
    contact_id = asked.json()["id"]
    received = api.get("/api/v1/contacts?status=open", headers=host).json()
    assert [c["id"] for c in received] == [contact_id] and received[0]["direction"] == "received"
    assert api.post(f"/api/v1/contacts/{contact_id}/accept", headers=visitor).status_code == 403
    assert api.post(f"/api/v1/contacts/{contact_id}/accept", headers=host).json()["status"] == "accepted"

    posted = api.post(f"/api/v1/contacts/{contact_id}/messages", json={"body": "Great!"}, headers=visitor)
    assert posted.status_code == 201
    thread = api.get(f"/api/v1/contacts/{contact_id}/messages", headers=host).json()
    assert [m["body"] for m in thread] == ["Great!"]
    # Registration discloses contact details once it has processed matching's contact_accepted.
    host_contact = _eventually(lambda: api.get(f"/api/v1/catalogue/{host_reg}",
                                               headers=visitor).json().get("contact"))
    assert host_contact["email"] == "ana@example.org"

    _e, stranger = sign_up(api)
    assert api.get(f"/api/v1/contacts/{contact_id}/messages", headers=stranger).status_code == 404
    assert api.get("/api/v1/catalogue", headers=stranger).status_code == 403

    withdrawn = api.post(f"/api/v1/registrations/{host_reg}/withdraw", headers=host)
    assert withdrawn.status_code == 200
    gone = _eventually(lambda: api.get(f"/api/v1/matches?registration_id={visitor_reg}",
                                       headers=visitor).json() == [])
    assert gone


def test_matches_for_an_unaccepted_registration_are_404(api, db_engines):
    greenmob = partnership_id(db_engines["registration"], "GREENMOB")
    _e, headers = sign_up(api)
    reg = api.post("/api/v1/registrations", json=registration_payload(greenmob), headers=headers).json()
    assert api.get(f"/api/v1/matches?registration_id={reg['id']}", headers=headers).status_code == 404
    assert api.get("/api/v1/matches", headers=headers).status_code == 422
