"""The registration service through the broker: RPC with tokens in the context data."""

from __future__ import annotations

import pytest
from nameko.exceptions import IncorrectSignature

from common.errors import NotAllowed, NotFound, StaleVersion, Unauthorized, ValidationFailed
from tests.helpers import make_account, partnership_id, registration_payload, unique_email


@pytest.fixture
def participant(db_engines):
    return make_account(db_engines["registration"], unique_email("p"), ["participant"])


@pytest.fixture
def greenmob(db_engines):
    return partnership_id(db_engines["registration"], "GREENMOB")


def test_calls_without_a_token_are_refused(rpc_as):
    anonymous = rpc_as("", [])
    with pytest.raises(Unauthorized):
        anonymous.list_registrations({})


def test_identity_comes_from_the_token_not_from_arguments(rpc_as, participant, greenmob, db_engines):
    owner = rpc_as(participant, ["participant"])
    reg = owner.create_registration(registration_payload(greenmob))
    assert reg["account_id"] == participant
    other = make_account(db_engines["registration"], unique_email("o"), ["participant"])
    intruder = rpc_as(other, ["participant"])
    with pytest.raises(NotFound):
        intruder.get_registration(reg["id"])
    with pytest.raises(NotFound):
        intruder.withdraw_registration(reg["id"])
    with pytest.raises(IncorrectSignature):
        intruder.get_registration(reg["id"], account_id=participant)


def test_roles_see_what_they_may(rpc_as, participant, greenmob, db_engines):
    rpc_as(participant, ["participant"]).create_registration(registration_payload(greenmob))
    admin = rpc_as(make_account(db_engines["registration"], unique_email("a"), ["admin"]), ["admin"])
    assert admin.list_registrations({})["total"] == 1
    contact_id = make_account(db_engines["registration"], unique_email("c"), ["partnership_contact"],
                              "GREENMOB")
    contact = rpc_as(contact_id, ["partnership_contact"], greenmob)
    assert contact.list_registrations({})["total"] == 1
    other_contact = rpc_as(contact_id, ["partnership_contact"], "another-partnership")
    assert other_contact.list_registrations({})["total"] == 0
    agent = rpc_as(make_account(db_engines["registration"], unique_email("s"), ["support_agent"]),
                   ["support_agent"])
    with pytest.raises(NotAllowed):
        agent.list_registrations({})
    with pytest.raises(NotAllowed):
        agent.create_registration(registration_payload(greenmob))


def test_concurrent_edits_one_wins_the_other_is_stale(rpc_as, participant, greenmob):
    owner = rpc_as(participant, ["participant"])
    reg = owner.create_registration(registration_payload(greenmob))
    owner.update_registration(reg["id"], {"motivation": "a", "version": reg["version"]})
    with pytest.raises(StaleVersion):
        owner.update_registration(reg["id"], {"motivation": "b", "version": reg["version"]})


def test_list_filters_and_paginates(rpc_as, greenmob, db_engines):
    admin = rpc_as(make_account(db_engines["registration"], unique_email("a"), ["admin"]), ["admin"])
    for index, country in enumerate(["PT", "DE", "PT"]):
        account = make_account(db_engines["registration"], unique_email(f"p{index}"), ["participant"])
        roles = ["host"] if country == "DE" else ["visitor"]
        rpc_as(account, ["participant"]).create_registration(
            registration_payload(greenmob, country=country, roles=roles))
    assert admin.list_registrations({"country": "PT"})["total"] == 2
    assert admin.list_registrations({"role": "host"})["total"] == 1
    page = admin.list_registrations({"per_page": 2, "page": 2})
    assert page["total"] == 3 and len(page["items"]) == 1
    with pytest.raises(ValidationFailed):
        admin.list_registrations({"per_page": 1000})


def test_accepted_registration_keeps_its_eligibility_fields(rpc_as, participant, greenmob, db_engines):
    from sqlalchemy.orm import Session

    from services.registration.models import Registration

    owner = rpc_as(participant, ["participant"])
    reg = owner.create_registration(registration_payload(greenmob))
    with Session(db_engines["registration"]) as session:
        session.get(Registration, reg["id"]).status = "accepted"
        session.commit()
    current = owner.get_registration(reg["id"])
    with pytest.raises(Exception) as caught:
        owner.update_registration(reg["id"], {"organisation": {"country": "DE"},
                                              "version": current["version"]})
    assert caught.value.__class__.__name__ == "InvalidState"
    updated = owner.update_registration(reg["id"], {"motivation": "New focus",
                                                    "version": current["version"]})
    assert updated["status"] == "accepted"


def test_two_simultaneous_creations_make_one_registration(rpc_as, participant, greenmob, db_engines):
    import threading
    import time

    from sqlalchemy import text

    from common.errors import Conflict

    attempts = 4
    proxies = [rpc_as(participant, ["participant"]) for _ in range(attempts)]
    start = threading.Barrier(attempts)
    results: list = []
    spans: list[tuple[float, float]] = []

    def create(proxy):
        start.wait()
        began = time.monotonic()
        try:
            results.append(proxy.create_registration(registration_payload(greenmob))["reference"])
        except Conflict as exc:
            results.append(exc)
        spans.append((began, time.monotonic()))

    threads = [threading.Thread(target=create, args=(proxy,)) for proxy in proxies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    # They really ran at the same time: every call began before any of them ended.
    assert max(began for began, _ in spans) < min(ended for _, ended in spans)
    references = [r for r in results if isinstance(r, str)]
    conflicts = [r for r in results if isinstance(r, Conflict)]
    assert len(references) == 1 and len(conflicts) == attempts - 1
    assert all(references[0] in conflict.detail for conflict in conflicts)
    with db_engines["registration"].connect() as conn:
        active = conn.execute(text(
            "SELECT reference FROM registrations WHERE account_id = :a AND status IN "
            "('draft', 'submitted', 'changes_requested', 'accepted')"), {"a": participant}).scalars().all()
    assert active == references
