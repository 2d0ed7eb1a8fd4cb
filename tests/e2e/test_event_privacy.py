"""No personal data on the event exchanges: a queue of our own bound to every `*.events`
exchange sees a whole journey, and no payload carries a name, email, phone, date of birth,
nationality or CV reference."""

from __future__ import annotations

import json
import time
from typing import Any

import pika
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from common.events import EVENTS_BY_SOURCE
from services.registration.models import Registration
from tests.helpers import (
    MINIMAL_PDF,
    login,
    make_account,
    partnership_id,
    registration_payload,
    sign_up,
    unique_email,
)

pytestmark = pytest.mark.e2e


class ExchangeTap:
    """One exclusive queue bound with `#` to every service's event exchange."""

    def __init__(self, amqp_uri: str) -> None:
        self.connection = pika.BlockingConnection(
            pika.URLParameters(amqp_uri.replace("pyamqp://", "amqp://")))
        self.channel = self.connection.channel()
        self.queue = self.channel.queue_declare("", exclusive=True).method.queue
        for source in EVENTS_BY_SOURCE:
            self.channel.exchange_declare(f"{source}.events", exchange_type="topic", durable=True)
            self.channel.queue_bind(self.queue, f"{source}.events", routing_key="#")
        self.seen: list[tuple[str, bytes, Any]] = []

    def until(self, predicate, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not predicate(self.events()):
            if time.monotonic() > deadline:
                raise AssertionError(f"events so far: {[e['event_type'] for e in self.events()]}")
            method, properties, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                self.connection.sleep(0.05)
            else:
                self.seen.append((method.exchange, body, properties.headers))

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _exchange, body, _headers in self.seen]

    def close(self) -> None:
        self.connection.close()


PERSON = {
    "visitor": {"full_name": "Quintessa Vandermolen", "first_name": "Quintessa",
                "last_name": "Vandermolen", "email": "quintessa.vdm@example.eu",
                "phone": "+351 22 987 6543", "date_of_birth": "1979-11-23", "nationality": "LU",
                "cv": "quintessa-vandermolen-cv.pdf"},
    "host": {"full_name": "Bartholomew Okonkwo-Lindqvist", "first_name": "Bartholomew",
             "last_name": "Okonkwo-Lindqvist", "email": "bartholomew.ol@example.eu",
             "phone": "+49 30 555 0199", "date_of_birth": "1968-02-29", "nationality": "MT",
             "cv": "bartholomew-lebenslauf.pdf"},
}


SIGNED_UP: list[str] = []  # the account emails of this test: on no event either


def _participant(api: Any, contact: dict[str, str], greenmob: str, who: str, country: str,
                 roles: list[str]) -> tuple[dict[str, str], dict[str, Any]]:
    person = PERSON[who]
    email, headers = sign_up(api, who, full_name=person["full_name"])
    SIGNED_UP.append(email)
    payload = registration_payload(greenmob, country=country, roles=roles)
    payload["representative"].update({k: person[k] for k in (
        "first_name", "last_name", "email", "phone", "date_of_birth", "nationality")})
    if "host" in roles:
        payload["preferences"]["host_capacity"] = 2
    reg = api.post("/api/v1/registrations", json=payload, headers=headers).json()
    for motivation in ("A first draft.", "A second draft, still private."):
        reg = api.patch(f"/api/v1/registrations/{reg['id']}",
                        json={"motivation": motivation, "version": reg["version"]},
                        headers=headers).json()
    uploaded = api.put(f"/api/v1/registrations/{reg['id']}/cv", data=MINIMAL_PDF,
                       headers={**headers, "Content-Type": "application/pdf",
                                "X-Filename": person["cv"]})
    assert uploaded.status_code == 200, uploaded.text
    assert api.post(f"/api/v1/registrations/{reg['id']}/submit", headers=headers).status_code == 200
    accepted = api.post(f"/api/v1/registrations/{reg['id']}/assessment",
                        json={"decision": "accept", "comment": f"Welcome, {person['first_name']}"},
                        headers=contact)
    assert accepted.status_code == 200, accepted.text
    updated = api.patch(f"/api/v1/registrations/{reg['id']}",
                        json={"expertise": "Textile recycling.", "version": accepted.json()["version"]},
                        headers=headers)
    assert updated.status_code == 200, updated.text
    return headers, uploaded.json()


def test_no_personal_data_reaches_the_event_exchanges(api, db_engines, rabbit_config):
    tap = ExchangeTap(rabbit_config["AMQP_URI"])
    try:
        greenmob = partnership_id(db_engines["registration"], "GREENMOB")
        contact_email = unique_email("contact")
        make_account(db_engines["registration"], contact_email, ["partnership_contact"], "GREENMOB")
        contact = login(api, contact_email)
        visitor, visitor_reg = _participant(api, contact, greenmob, "visitor", "PT", ["visitor"])
        host, host_reg = _participant(api, contact, greenmob, "host", "DE", ["host"])

        def listed(headers: dict[str, str], registration_id: str) -> bool:
            return api.get(f"/api/v1/catalogue/{registration_id}", headers=headers).status_code == 200

        deadline = time.monotonic() + 10
        while not (listed(visitor, host_reg["id"]) and listed(host, visitor_reg["id"])):
            assert time.monotonic() < deadline, "the catalogue never listed both"
            time.sleep(0.05)
        asked = api.post("/api/v1/contacts", json={"registration_id": host_reg["id"],
                                                   "message": "Quintessa here, shall we meet?"},
                         headers=visitor)
        assert asked.status_code == 201, asked.text
        contact_id = asked.json()["id"]
        assert api.post(f"/api/v1/contacts/{contact_id}/accept", headers=host).status_code == 200
        assert api.post(f"/api/v1/contacts/{contact_id}/messages",
                        json={"body": "Call me on +351 22 987 6543"}, headers=visitor).status_code == 201
        assert api.post(f"/api/v1/registrations/{visitor_reg['id']}/withdraw",
                        headers=visitor).status_code == 200

        tap.until(lambda events: {"registration_withdrawn", "message_posted", "contact_accepted"}
                  <= {e["event_type"] for e in events})
        types = [e["event_type"] for e in tap.events()]
        # Draft edits are no events; the edit of each accepted registration is one.
        assert types.count("registration_updated") == 2, types
        assert types.count("registration_submitted") == 2

        with Session(db_engines["registration"]) as session:
            cv_keys = list(session.scalars(select(Registration.cv_key).where(
                Registration.id.in_([visitor_reg["id"], host_reg["id"]]))))
        assert len(cv_keys) == 2 and all(cv_keys)
        forbidden = [value for person in PERSON.values() for key, value in person.items()
                     if key != "nationality"] + cv_keys + SIGNED_UP
        # Account emails are asked for with ids only: no address, no link's token.
        envelope = {"event_id", "event_type", "version", "occurred_at", "actor_id"}
        account_events = [e for e in tap.events() if e["event_type"] == "email_verification_requested"]
        assert len(account_events) >= 2
        assert all(set(e) == envelope | {"account_id", "request_id"} for e in account_events)
        for exchange, body, headers in tap.seen:
            text = (json.dumps(json.loads(body), ensure_ascii=False)
                    + json.dumps(headers or {}, default=str, ensure_ascii=False))
            for value in forbidden:
                assert value not in text, f"{value!r} on {exchange}: {text[:300]}"
            for person in PERSON.values():
                assert f'"{person["nationality"]}"' not in text, f"nationality on {exchange}"
            for key in ("email", "phone", "first_name", "last_name", "date_of_birth",
                        "nationality", "cv", "contact", "comment", "token", "password"):
                assert f'"{key}"' not in text, f"{key} on {exchange}"
    finally:
        tap.close()
