"""Which endpoints an event reaches, through the broker: each partnership only its own members'
and exchanges' events. Matching's events name registrations only: both registrations'
partnerships hear of a contact, from the projection notifications keeps from registration's
events (a newer registration version moves it), and a registration nobody knows reaches nobody."""

from __future__ import annotations

import uuid
from typing import Any

from nameko.testing.services import entrypoint_waiter
from sqlalchemy import text
from sqlalchemy.orm import Session

from common.events import make_event
from services.notifications.webhook_models import WebhookEndpoint
from tests.helpers import profile_event, publish_event

TYPES = ["registration_accepted", "contact_requested", "exchange_validated", "payout_paid",
         "password_reset_requested"]


def _endpoints(db_engines, partnerships: list[str]) -> dict[str, str]:
    ids = {}
    with Session(db_engines["notifications"]) as session:
        for partnership in partnerships:
            ids[partnership] = str(uuid.uuid4())
            # Port 9 (discard) on loopback: attempts fail fast; only the queue matters here.
            session.add(WebhookEndpoint(id=ids[partnership], partnership_id=partnership,
                                        url=f"http://127.0.0.1:9/{partnership}", event_types=TYPES,
                                        active=True, sealed_secret="unused", created_by="test"))
        session.commit()
    return ids


def _reached(db_engines, event_id: str, endpoints: dict[str, str]) -> set[str]:
    with db_engines["notifications"].connect() as conn:
        rows = conn.execute(text("SELECT endpoint_id FROM webhook_deliveries WHERE event_id = :e"),
                            {"e": event_id}).all()
    by_id = {value: key for key, value in endpoints.items()}
    return {by_id[row.endpoint_id] for row in rows}


def _handled(container: Any, config: dict[str, Any], source: str, event: dict[str, Any]) -> None:
    with entrypoint_waiter(container, f"handle_{source}_event", timeout=15):
        publish_event(config, source, event)


def test_each_event_reaches_the_partnerships_it_concerns_only(
        config, db_engines, registration_container, agreements_container, notifications_container):
    endpoints = _endpoints(db_engines, ["A", "B", "C"])
    r1, r2 = str(uuid.uuid4()), str(uuid.uuid4())
    accepted = profile_event("registration_accepted", r1, str(uuid.uuid4()), "PT", ["visitor"],
                             partnership="A")
    _handled(notifications_container, config, "registration", accepted)
    assert _reached(db_engines, accepted["event_id"], endpoints) == {"A"}
    # r2 moved from C to B: the newer version wins, an older one arriving late changes nothing.
    for version, partnership in ((2, "B"), (1, "C")):
        _handled(notifications_container, config, "registration", profile_event(
            "registration_submitted", r2, str(uuid.uuid4()), "DE", ["host"], version=version,
            status="submitted", partnership=partnership))

    contact = make_event("contact_requested", {
        "contact_id": str(uuid.uuid4()), "status": "open", "requester_registration_id": r1,
        "requester_account_id": str(uuid.uuid4()), "recipient_registration_id": r2,
        "recipient_account_id": str(uuid.uuid4())})
    _handled(notifications_container, config, "matching", contact)
    assert _reached(db_engines, contact["event_id"], endpoints) == {"A", "B"}

    stranger = make_event("contact_requested", {
        "contact_id": str(uuid.uuid4()), "status": "open",
        "requester_registration_id": str(uuid.uuid4()), "requester_account_id": str(uuid.uuid4()),
        "recipient_registration_id": str(uuid.uuid4()), "recipient_account_id": str(uuid.uuid4())})
    _handled(notifications_container, config, "matching", stranger)
    assert _reached(db_engines, stranger["event_id"], endpoints) == set()

    validated = make_event("exchange_validated", {
        "exchange_id": str(uuid.uuid4()), "reference": "CXC-2026-000001", "status": "validated",
        "exchange_version": 3, "content_version": 1, "visitor_registration_id": r1,
        "visitor_organisation_id": "o1", "visitor_partnership_id": "A", "visitor_country": "PT",
        "host_registration_id": r2, "host_organisation_id": "o2", "host_partnership_id": "C",
        "host_country": "DE", "mode": "physical", "start_date": None, "end_date": None})
    _handled(notifications_container, config, "agreements", validated)
    assert _reached(db_engines, validated["event_id"], endpoints) == {"A", "C"}

    paid = make_event("payout_paid", {
        "payout_id": str(uuid.uuid4()), "claim_id": str(uuid.uuid4()), "exchange_id": str(uuid.uuid4()),
        "reference": "CXC-2026-000001", "partnership_id": "B", "amount_cents": 78_000,
        "state": "paid", "due_on": "2026-12-01", "batch_id": str(uuid.uuid4())})
    _handled(notifications_container, config, "payments", paid)
    assert _reached(db_engines, paid["event_id"], endpoints) == {"B"}

    # Internal account events reach no webhook, even one that (wrongly) names them.
    reset = make_event("password_reset_requested", {"account_id": str(uuid.uuid4()),
                                                    "request_id": str(uuid.uuid4()), "partnership_id": "A"})
    _handled(notifications_container, config, "registration", reset)
    assert _reached(db_engines, reset["event_id"], endpoints) == set()
