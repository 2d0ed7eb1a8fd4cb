"""Registration discloses a representative's contact details only to whoever has a reason:
the owner, an administrator, a contact point of the partnership, or the other party of an
accepted contact (learnt from matching's `contact_accepted`)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from nameko.testing.services import entrypoint_waiter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.errors import NotFound
from common.events import make_event
from services.registration.models import Disclosure
from tests.helpers import make_account, partnership_id, publish_event, registration_payload, unique_email


def _registration(rpc_as, db_engines, email: str) -> tuple[str, Any]:
    account = make_account(db_engines["registration"], unique_email("p"), ["participant"])
    owner = rpc_as(account, ["participant"])
    payload = registration_payload(partnership_id(db_engines["registration"], "GREENMOB"))
    payload["representative"]["email"] = email
    return owner.create_registration(payload)["id"], owner


def test_contact_details_are_for_the_owner_staff_and_accepted_contacts(
        rpc_as, config, db_engines, registration_container):
    engine = db_engines["registration"]
    host_id, host = _registration(rpc_as, db_engines, "host@example.eu")
    visitor_id, visitor = _registration(rpc_as, db_engines, "visitor@example.eu")
    greenmob = partnership_id(engine, "GREENMOB")
    other = partnership_id(engine, "TEXCIRC")

    details = host.get_contact_details(host_id)
    assert details == {"first_name": "Ana", "last_name": "Ferreira", "email": "host@example.eu",
                       "phone": "+351 22 000 0000", "position": "Cluster manager",
                       "organisation_name": "Cluster Têxtil Norte"}
    assert rpc_as(str(uuid.uuid4()), ["admin"]).get_contact_details(host_id)["email"] == \
        "host@example.eu"
    contact_point = rpc_as(str(uuid.uuid4()), ["partnership_contact"], greenmob)
    assert contact_point.get_contact_details(host_id)["email"] == "host@example.eu"
    for refused in (visitor, rpc_as(str(uuid.uuid4()), ["partnership_contact"], other),
                    rpc_as(str(uuid.uuid4()), ["support_agent"])):
        with pytest.raises(NotFound):
            refused.get_contact_details(host_id)

    accepted = make_event("contact_accepted", {
        "contact_id": str(uuid.uuid4()), "status": "accepted",
        "requester_registration_id": visitor_id, "requester_account_id": "a",
        "recipient_registration_id": host_id, "recipient_account_id": "b"})
    handled = []

    def twice(worker_ctx, result, exc_info):
        handled.append(exc_info)
        return len(handled) == 2

    with entrypoint_waiter(registration_container, "handle_contact_accepted", callback=twice):
        publish_event(config, "matching", accepted, times=2)
    assert handled == [None, None]
    assert visitor.get_contact_details(host_id)["email"] == "host@example.eu"
    assert host.get_contact_details(visitor_id)["email"] == "visitor@example.eu"
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Disclosure)) == 2
