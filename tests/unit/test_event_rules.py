"""Event rules without a broker: what events carry, when they are emitted, who reads contact
details, the queue arguments, the retry back-off, and workers that always answer."""

from __future__ import annotations

from typing import Any

import eventlet
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import sessionmaker

from common.auth import Caller
from common.db import WorkerSession
from common.errors import ServiceUnavailable
from common.events import DELIVERY_LIMIT, handles, retry_delay, subscriber_queue_arguments
from services.matching.catalogue import CatalogueIndex
from services.registration import domain

REGISTRATION = {
    "id": "r1", "reference": "CX-1", "version": 3, "status": "accepted", "account_id": "a1",
    "partnership_id": "p1", "roles": ["visitor"],
    "organisation": {"id": "o1", "name": "Cluster", "type": "cluster_organisation",
                     "country": "PT", "city": "Porto", "registration_number": "PT-123",
                     "address": "Rua 1"},
    "representative": {"first_name": "Quintessa", "last_name": "Vandermolen",
                       "email": "q@example.eu", "phone": "+351 1", "position": "Manager",
                       "date_of_birth": "1979-11-23", "nationality": "LU",
                       "residence_country": "PT"},
    "motivation": "m", "expertise": "e", "preferences": {"sectors": ["textiles"]},
    "cv": {"key": "cv/r1/abc", "filename": "quintessa.pdf"},
}


def test_event_profile_carries_no_personal_data():
    profile = domain.event_profile(REGISTRATION)
    text_of = repr(profile)
    for personal in ("Quintessa", "Vandermolen", "q@example.eu", "+351 1", "1979-11-23", "'LU'",
                     "cv/r1/abc", "quintessa.pdf", "contact", "date_of_birth", "nationality",
                     "PT-123", "Rua 1"):
        assert personal not in text_of, personal
    assert profile["organisation"]["country"] == "PT" and profile["registration_version"] == 3


def test_only_edits_of_a_listed_registration_are_events():
    assert domain.emits_update(domain.ACCEPTED)
    for status in (domain.DRAFT, domain.SUBMITTED, domain.CHANGES_REQUESTED):
        assert not domain.emits_update(status)


@pytest.mark.parametrize(("caller", "disclosed", "allowed"), [
    (Caller("a1", frozenset({"participant"})), False, True),           # the owner
    (Caller("x", frozenset({"admin"})), False, True),
    (Caller("x", frozenset({"partnership_contact"}), partnership_id="p1"), False, True),
    (Caller("x", frozenset({"partnership_contact"}), partnership_id="p2"), False, False),
    (Caller("x", frozenset({"participant"})), True, True),              # an accepted contact
    (Caller("x", frozenset({"participant"})), False, False),
    (Caller("x", frozenset({"support_agent"})), True, False),
])
def test_who_may_read_contact_details(caller, disclosed, allowed):
    assert domain.may_read_contact(caller, "a1", "p1", disclosed) is allowed


def test_subscriber_queues_are_quorum_queues_that_park_after_the_delivery_limit():
    assert subscriber_queue_arguments("matching") == {
        "x-queue-type": "quorum", "x-delivery-limit": DELIVERY_LIMIT,
        "x-dead-letter-exchange": "matching.parking",
        "x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}


def test_retries_back_off_exponentially_up_to_a_cap():
    assert [retry_delay(n, 0.5, 30) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert retry_delay(20, 0.5, 30) == 30


def test_a_failing_handler_closes_its_session_before_backing_off():
    engine = create_engine("sqlite://")

    class Service:
        def __init__(self) -> None:
            self.db = WorkerSession(sessionmaker(bind=engine), engine)

        @handles("registration", "registration_withdrawn")
        def handle(self, payload: dict[str, Any]) -> None:
            self.db.session.execute(text("SELECT 1"))
            raise RuntimeError("boom")

    service = Service()
    with pytest.raises(RuntimeError):
        service.handle({"event_id": "e1"})
    assert service.db._session is None


def test_a_catalogue_still_loading_answers_503_instead_of_hanging_the_worker():
    index = CatalogueIndex()
    index.ready = eventlet.event.Event()
    with pytest.raises(ServiceUnavailable, match="still loading"):
        index.wait_ready(timeout=0.05)
    index.ready.send(True)
    index.wait_ready(timeout=0.05)
