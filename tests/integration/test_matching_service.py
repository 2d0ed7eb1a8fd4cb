"""The matching service through the broker: its catalogue from registration events, matches,
search and contacts."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import eventlet
import pytest
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.testing.services import entrypoint_hook, entrypoint_waiter
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from common.db import utcnow
from common.errors import Conflict, InvalidState, NotAllowed, NotFound
from services.matching import projection
from services.matching.models import CatalogueEntry, ContactRequest, InboxEvent, OutboxEvent
from tests.helpers import profile_event, publish_event


def new_id() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def as_account(config: dict[str, Any], matching_container: Any, tokens: Any):
    proxies = []

    def make(account_id: str, roles: tuple[str, ...] = ("participant",), partnership: str | None = None):
        token, _ = tokens.issue(account_id, list(roles), None, partnership)
        proxy = ClusterRpcProxy(config, context_data={"auth_token": token})
        proxies.append(proxy)
        return proxy.start().matching

    yield make
    for proxy in proxies:
        proxy.stop()


def wait_for(predicate, timeout: float = 5.0) -> Any:
    with eventlet.Timeout(timeout):
        while True:
            value = predicate()
            if value:
                return value
            eventlet.sleep(0.05)


def accept(config, country: str, roles: list[str], **kwargs) -> tuple[str, str]:
    registration_id, account_id = new_id(), new_id()
    event = profile_event("registration_accepted", registration_id, account_id, country, roles,
                          **kwargs)
    publish_event(config, "registration", event)
    return registration_id, account_id


def listed(matching, registration_id: str) -> bool:
    try:
        matching.get_catalogue_entry(registration_id)
        return True
    except (NotFound, NotAllowed):  # NotAllowed: the caller's own entry is not in yet
        return False


def test_accepted_registration_appears_and_withdrawn_disappears(config, as_account):
    visitor_id, visitor_account = accept(config, "PT", ["visitor"], text="circular textiles")
    matching = as_account(visitor_account)
    wait_for(lambda: listed(matching, visitor_id))
    host_id, host_account = accept(config, "DE", ["host"], text="circular textiles recycling")
    found = wait_for(lambda: matching.get_matches({"registration_id": visitor_id})["items"])
    assert [m["registration_id"] for m in found] == [host_id]
    assert found[0]["side"] == "host"
    assert "Both work in Textiles." in [r["detail"] for r in found[0]["explanation"]["fits"]]
    assert 0 < found[0]["score"] <= 100
    assert round(sum(c["points"] for c in found[0]["contributions"]), 1) == found[0]["score"]
    assert wait_for(lambda: matching.search_catalogue({"q": "recycling"})["total"]) == 1
    assert matching.search_catalogue({"q": "recycle textile"})["total"] == 1  # word forms
    assert matching.search_catalogue({"q": "Recycling Textilien"})["total"] == 1  # German

    publish_event(config, "registration", profile_event(
        "registration_withdrawn", host_id, host_account, "DE", ["host"], version=2, status="withdrawn"))
    # The index follows the table within a refresh interval, never ahead of it.
    wait_for(lambda: not listed(matching, host_id))
    wait_for(lambda: matching.search_catalogue({"q": "recycling"})["total"] == 0)
    assert matching.get_matches({"registration_id": visitor_id})["items"] == []


def test_the_index_says_when_it_is_ready_and_how_big_and_fresh_it_is(config, as_account,
                                                                     matching_container):
    from common.metrics import MATCHING_INDEX_ENTRIES, MATCHING_INDEX_LAG
    from services.matching.catalogue import CatalogueIndex

    catalogue = next(ext for ext in matching_container.dependencies if isinstance(ext, CatalogueIndex))
    catalogue.wait_ready()
    assert catalogue.readiness() is None
    visitor_id, visitor_account = accept(config, "PT", ["visitor"], text="circular textiles")
    wait_for(lambda: listed(as_account(visitor_account), visitor_id))
    catalogue.report_metrics()
    assert MATCHING_INDEX_ENTRIES.labels("matching")._value.get() >= 1
    assert 0 <= MATCHING_INDEX_LAG.labels("matching")._value.get() < 60

    catalogue.ready.reset()  # as before the first load
    assert catalogue.readiness() == "the catalogue index is not built yet"


def deliveries(container: Any, method: str, count: int, timeout: float = 10):
    """Waits (as a context manager) until `method` has handled `count` deliveries."""
    seen = []

    def counted(worker_ctx, result, exc_info):
        seen.append(1)
        return len(seen) >= count

    return entrypoint_waiter(container, method, callback=counted, timeout=timeout)


def test_replaying_an_event_changes_nothing(config, as_account, db_engines, matching_container):
    registration_id, account_id = new_id(), new_id()
    event = profile_event("registration_accepted", registration_id, account_id, "PT", ["visitor"])
    with deliveries(matching_container, "handle_registration_accepted", 3):
        publish_event(config, "registration", event, times=3)
    matching = as_account(account_id)
    wait_for(lambda: listed(matching, registration_id))
    with Session(db_engines["matching"]) as session:
        assert session.scalar(select(func.count()).select_from(InboxEvent)) == 1
        assert session.scalar(select(func.count()).select_from(CatalogueEntry)) == 1


def test_an_older_event_does_not_undo_a_newer_one(config, as_account, db_engines,
                                                  matching_container):
    registration_id, account_id = new_id(), new_id()
    with deliveries(matching_container, "handle_registration_withdrawn", 1):
        publish_event(config, "registration", profile_event(
            "registration_withdrawn", registration_id, account_id, "PT", ["visitor"], version=3,
            status="withdrawn"))
    with deliveries(matching_container, "handle_registration_accepted", 1):
        publish_event(config, "registration", profile_event(
            "registration_accepted", registration_id, account_id, "PT", ["visitor"], version=2))
    with deliveries(matching_container, "handle_registration_updated", 1):
        publish_event(config, "registration", profile_event(
            "registration_updated", registration_id, account_id, "PT", ["visitor"], version=2))
    with Session(db_engines["matching"]) as session:
        entry = session.get(CatalogueEntry, registration_id)
        assert entry.registration_version == 3 and entry.listed is False
        assert entry.profile == {}


def test_events_delivered_at_once_and_out_of_order_end_withdrawn(config, as_account, db_engines,
                                                                  matching_container):
    """Many deliveries of accepted (v2), updated (v2) and withdrawn (v3) race in parallel
    workers: whatever order they commit in, the row ends withdrawn and unlisted."""
    for _ in range(8):
        registration_id, account_id = new_id(), new_id()
        events = [profile_event("registration_withdrawn", registration_id, account_id, "PT",
                                ["visitor"], version=3, status="withdrawn")]
        for _copy in range(4):
            events += [profile_event(kind, registration_id, account_id, "PT", ["visitor"],
                                     version=2)
                       for kind in ("registration_accepted", "registration_updated")]
        with deliveries(matching_container, "handle_registration_accepted", 4), \
                deliveries(matching_container, "handle_registration_updated", 4), \
                deliveries(matching_container, "handle_registration_withdrawn", 1):
            for event in events:
                publish_event(config, "registration", event)
        with Session(db_engines["matching"]) as session:
            entry = session.get(CatalogueEntry, registration_id)
            assert (entry.registration_version, entry.listed, entry.profile) == (3, False, {})
        admin = as_account(new_id(), ("admin",))
        wait_for(lambda: not listed(admin, registration_id))


def test_matches_respect_the_hard_rules(config, as_account, db_engines):
    visitor_id, visitor_account = accept(config, "PT", ["visitor"])
    same_country_host, _ = accept(config, "PT", ["host"])
    host_id, _ = accept(config, "DE", ["host"])
    other_visitor, _ = accept(config, "FR", ["visitor"])
    full_host, _ = accept(config, "IT", ["host"])
    matching = as_account(visitor_account)
    wait_for(lambda: listed(matching, full_host))
    wait_for(lambda: len(matching.get_matches({"registration_id": visitor_id})["items"]) == 2)
    with Session(db_engines["matching"]) as session:
        projection.touch(session, full_host, host_capacity=0)
        session.commit()
    found = wait_for(lambda: [m["registration_id"] for m in matching.get_matches(
        {"registration_id": visitor_id})["items"]] == [host_id])
    assert found
    host_matches = as_account(new_id(), ("admin",)).get_matches({"registration_id": host_id})["items"]
    assert {m["registration_id"] for m in host_matches} == {visitor_id, other_visitor}
    assert all(m["side"] == "visitor" and m["explanation"]["fits"] for m in host_matches)

    with Session(db_engines["matching"]) as session:
        projection.touch(session, other_visitor, has_visited=True)
        session.commit()
    admin = as_account(new_id(), ("admin",))
    assert wait_for(lambda: {m["registration_id"] for m in admin.get_matches(
        {"registration_id": host_id})["items"]} == {visitor_id})


def test_only_accepted_participants_browse_and_only_owners_get_matches(config, as_account):
    visitor_id, visitor_account = accept(config, "PT", ["visitor"])
    stranger = as_account(new_id())
    matching = as_account(visitor_account)
    wait_for(lambda: listed(matching, visitor_id))
    with pytest.raises(NotAllowed):
        stranger.search_catalogue({})
    with pytest.raises(NotFound):
        stranger.get_matches({"registration_id": visitor_id})["items"]
    other_id, other_account = accept(config, "DE", ["host"])
    other = as_account(other_account)
    wait_for(lambda: listed(other, other_id))
    with pytest.raises(NotFound):
        other.get_matches({"registration_id": visitor_id})["items"]


def registered(config, db_engines, tokens, country: str, roles: list[str],
               email: str) -> tuple[str, str]:
    """A registration made in registration (accepted there) and listed in matching."""
    from services.registration.models import Registration
    from tests.helpers import make_account, partnership_id, registration_payload, unique_email

    account_id = make_account(db_engines["registration"], unique_email("p"), ["participant"])
    token, _ = tokens.issue(account_id, ["participant"], None, None)
    payload = registration_payload(partnership_id(db_engines["registration"], "GREENMOB"),
                                   country=country, roles=roles)
    payload["representative"]["email"] = email
    with ClusterRpcProxy(config, context_data={"auth_token": token}) as rpc:
        registration_id = rpc.registration.create_registration(payload)["id"]
    with Session(db_engines["registration"]) as session:
        session.execute(update(Registration).where(Registration.id == registration_id)
                        .values(status="accepted"))
        session.commit()
    publish_event(config, "registration", profile_event(
        "registration_accepted", registration_id, account_id, country, roles))
    return registration_id, account_id


def test_contact_details_come_from_registration_once_a_contact_is_accepted(
        config, as_account, registration_container, db_engines, tokens):
    visitor_id, visitor_account = registered(config, db_engines, tokens, "PT", ["visitor"],
                                             "visitor@example.eu")
    host_id, host_account = registered(config, db_engines, tokens, "DE", ["host"],
                                       "host@example.eu")
    visitor, host = as_account(visitor_account), as_account(host_account)
    wait_for(lambda: listed(visitor, host_id) and listed(host, visitor_id))
    entry = visitor.get_catalogue_entry(host_id)
    assert entry.get("contact") is None
    assert "date_of_birth" not in str(entry) and "email" not in str(entry)
    assert visitor.get_catalogue_entry(visitor_id)["contact"]["email"] == "visitor@example.eu"
    contact = visitor.create_contact({"registration_id": host_id, "message": "Hello!"})
    assert visitor.get_catalogue_entry(host_id).get("contact") is None
    host.answer_contact(contact["id"], True)
    # Registration learns of the accepted contact from matching's event; until then the
    # entry comes without contact details, not with an error.
    shown = wait_for(lambda: visitor.get_catalogue_entry(host_id).get("contact"))
    assert shown["email"] == "host@example.eu" and shown["first_name"] == "Ana"
    assert wait_for(lambda: host.get_catalogue_entry(visitor_id).get("contact"))["email"] == \
        "visitor@example.eu"
    stranger_id, stranger_account = registered(config, db_engines, tokens, "FR", ["visitor"],
                                               "stranger@example.eu")
    stranger = as_account(stranger_account)
    wait_for(lambda: listed(stranger, stranger_id))
    assert stranger.get_catalogue_entry(host_id).get("contact") is None


def test_sixth_open_request_is_refused(config, as_account):
    visitor_id, visitor_account = accept(config, "PT", ["visitor"])
    hosts = [accept(config, country, ["host"])[0] for country in ("DE", "FR", "IT", "ES", "NL", "BE")]
    visitor = as_account(visitor_account)
    wait_for(lambda: all(listed(visitor, h) for h in hosts))
    for host in hosts[:5]:
        visitor.create_contact({"registration_id": host, "message": "Shall we talk?"})
    with pytest.raises(Conflict):
        visitor.create_contact({"registration_id": hosts[5], "message": "And you?"})
    with pytest.raises(Conflict):
        visitor.create_contact({"registration_id": hosts[0], "message": "Again"})


def test_conversation_is_private_to_the_two_parties(config, as_account):
    visitor_id, visitor_account = accept(config, "PT", ["visitor"])
    host_id, host_account = accept(config, "DE", ["host"])
    visitor, host = as_account(visitor_account), as_account(host_account)
    wait_for(lambda: listed(visitor, host_id))
    contact = visitor.create_contact({"registration_id": host_id, "message": "Hello"})
    with pytest.raises(InvalidState):
        visitor.post_message(contact["id"], {"body": "Too early"})
    with pytest.raises(NotAllowed):
        visitor.answer_contact(contact["id"], True)
    host.answer_contact(contact["id"], True)
    visitor.post_message(contact["id"], {"body": "Great, when?"})
    host.post_message(contact["id"], {"body": "In March."})
    messages = visitor.list_messages(contact["id"], {})
    assert [m["body"] for m in messages["items"]] == ["Great, when?", "In March."]
    assert [m["mine"] for m in messages["items"]] == [True, False]
    stranger = as_account(new_id())
    for call in (lambda: stranger.get_contact(contact["id"]),
                 lambda: stranger.list_messages(contact["id"], {}),
                 lambda: stranger.post_message(contact["id"], {"body": "hi"}),
                 lambda: as_account(new_id(), ("admin",)).get_contact(contact["id"])):
        with pytest.raises(NotFound):
            call()
    with pytest.raises(InvalidState):
        host.answer_contact(contact["id"], False)
    assert host.list_contacts({"status": "accepted"})["items"][0]["direction"] == "received"


def test_open_requests_expire(config, as_account, matching_container, db_engines):
    visitor_id, visitor_account = accept(config, "PT", ["visitor"])
    host_id, host_account = accept(config, "DE", ["host"])
    visitor = as_account(visitor_account)
    wait_for(lambda: listed(visitor, host_id))
    contact = visitor.create_contact({"registration_id": host_id, "message": "Hello"})
    with Session(db_engines["matching"]) as session:
        session.execute(update(ContactRequest).values(expires_at=utcnow() - timedelta(minutes=1)))
        session.commit()
    with entrypoint_hook(matching_container, "expire_contacts") as expire:
        assert expire() == 1
    assert visitor.get_contact(contact["id"])["status"] == "expired"
    with pytest.raises(InvalidState):
        as_account(host_account).answer_contact(contact["id"], True)
    with Session(db_engines["matching"]) as session:
        types = session.scalars(select(OutboxEvent.event_type).order_by(OutboxEvent.id)).all()
    assert types == ["contact_requested", "contact_expired"]
    visitor.create_contact({"registration_id": host_id, "message": "Trying again"})


def test_rebuild_replays_from_registration(config, as_account, registration_container, db_engines,
                                           tokens):
    from services.registration.models import Registration
    from tests.helpers import make_account, partnership_id, registration_payload, unique_email

    greenmob = partnership_id(db_engines["registration"], "GREENMOB")
    accounts = [make_account(db_engines["registration"], unique_email("p"), ["participant"])
                for _ in range(3)]
    ids = []
    for account, country in zip(accounts, ("PT", "DE", "FR"), strict=True):
        token, _ = tokens.issue(account, ["participant"], None, None)
        with ClusterRpcProxy(config, context_data={"auth_token": token}) as rpc:
            ids.append(rpc.registration.create_registration(
                registration_payload(greenmob, country=country))["id"])
    with Session(db_engines["registration"]) as session:
        session.execute(update(Registration).where(Registration.id.in_(ids[:2])).values(status="accepted"))
        session.commit()
    stale_id, _ = accept(config, "IT", ["host"])
    admin = as_account(new_id(), ("admin",))
    wait_for(lambda: listed(admin, stale_id))
    assert admin.rebuild_catalogue() == {"listed": 2, "removed": 1}
    assert admin.rebuild_catalogue() == {"listed": 2, "removed": 0}
    assert {e["registration_id"] for e in admin.search_catalogue({})["items"]} == set(ids[:2])
    with pytest.raises(NotAllowed):
        as_account(accounts[0]).rebuild_catalogue()


def test_rebuild_pages_by_key_and_never_downgrades(config, as_account, registration_container,
                                                  db_engines, tokens, monkeypatch):
    from services.matching import service as matching_service

    monkeypatch.setattr(matching_service, "REBUILD_PAGE", 2)
    ids = [registered(config, db_engines, tokens, country, ["visitor"], f"{country}@example.eu")
           for country in ("PT", "DE", "FR", "IT", "ES")]
    admin = as_account(new_id(), ("admin",))
    wait_for(lambda: all(listed(admin, registration_id) for registration_id, _ in ids))
    newer_id, newer_account = ids[0]
    publish_event(config, "registration", profile_event(
        "registration_updated", newer_id, newer_account, "PT", ["visitor"], version=7,
        text="newer than registration's copy"))
    wait_for(lambda: admin.search_catalogue({"q": "newer"})["total"] == 1)
    assert admin.rebuild_catalogue() == {"listed": 5, "removed": 0}
    with Session(db_engines["matching"]) as session:
        assert session.get(CatalogueEntry, newer_id).registration_version == 7


def test_a_rebuild_does_not_unlist_what_was_accepted_while_it_ran(db_engines):
    def accepted(session, registration_id):
        projection.store_profile(session, profile_event(
            "registration_accepted", registration_id, new_id(), "PT", ["visitor"]))

    kept, stale, meanwhile = new_id(), new_id(), new_id()
    with Session(db_engines["matching"]) as session:
        accepted(session, kept)
        accepted(session, stale)
        session.commit()
        started_at = projection.current_change_seq(session)
        accepted(session, meanwhile)  # committed after the rebuild read the counter
        session.commit()
        assert projection.unlist_unseen(session, {kept}, started_at) == 1
        listed_ids = set(session.scalars(select(CatalogueEntry.registration_id).where(
            CatalogueEntry.listed.is_(True))))
    assert listed_ids == {kept, meanwhile}


def test_staff_who_are_also_participants_need_a_listed_registration_to_ask_for_contact(
        config, as_account):
    host_id, _ = accept(config, "DE", ["host"])
    staff = as_account(new_id(), ("participant", "admin"))
    wait_for(lambda: listed(staff, host_id))
    with pytest.raises(NotAllowed):
        staff.create_contact({"registration_id": host_id, "message": "Hello"})


def _exchange_event(event_type: str, visitor_id: str, host_id: str, status: str,
                    version: int, exchange_id: str) -> dict:
    from common.events import make_event

    return make_event(event_type, {
        "exchange_id": exchange_id, "reference": "CXC-2026-000001", "status": status,
        "exchange_version": version, "content_version": 1,
        "visitor_registration_id": visitor_id, "host_registration_id": host_id,
        "visitor_organisation_id": "o1", "host_organisation_id": "o2",
        "visitor_partnership_id": "p1", "host_partnership_id": "p1",
        "visitor_country": "PT", "host_country": "DE", "mode": "physical",
        "start_date": None, "end_date": None})


def test_the_alumni_directory_lists_who_completed_an_exchange_and_opted_in(
        config, as_account, matching_container):
    visitor_id, visitor_account = accept(config, "PT", ["visitor"], alumni_opt_in=True)
    host_id, _ = accept(config, "DE", ["host"], sectors=["agri_food"], alumni_opt_in=True)
    shy_id, _ = accept(config, "FR", ["visitor"])
    reader = as_account(visitor_account)
    wait_for(lambda: listed(reader, host_id) and listed(reader, shy_id))
    assert reader.list_alumni({})["items"] == []
    exchange_id = new_id()
    with entrypoint_waiter(matching_container, "handle_exchange_completed"):
        publish_event(config, "agreements", _exchange_event(
            "exchange_completed", visitor_id, host_id, "completed", 8, exchange_id))
    shy_exchange = new_id()
    with entrypoint_waiter(matching_container, "handle_exchange_completed"):
        publish_event(config, "agreements", _exchange_event(
            "exchange_completed", shy_id, host_id, "completed", 8, shy_exchange))
    alumni = reader.list_alumni({})
    assert sorted(entry["registration_id"] for entry in alumni["items"]) == sorted([visitor_id, host_id])
    assert alumni["total"] == 2
    assert [e["registration_id"] for e in reader.list_alumni({"country": "DE"})["items"]] == [host_id]
    assert [e["registration_id"] for e in reader.list_alumni({"sector": "agri_food"})["items"]] == [host_id]
    with entrypoint_waiter(matching_container, "handle_exchange_cancelled"):
        publish_event(config, "agreements", _exchange_event(
            "exchange_cancelled", visitor_id, host_id, "cancelled", 9, exchange_id))
    assert [e["registration_id"] for e in reader.list_alumni({})["items"]] == [host_id]
    with pytest.raises(NotAllowed):
        as_account(new_id()).list_alumni({})


# --- registration events committed in batches (services/matching/catalogue.py) ------------

def test_a_batch_keeps_the_newest_version_whatever_its_order_and_claims_every_event(db_engines):
    from services.matching.catalogue import apply_registration_events

    registration_id, account_id = new_id(), new_id()
    newest = profile_event("registration_withdrawn", registration_id, account_id, "PT",
                           ["visitor"], version=3, status="withdrawn")
    older = [profile_event(kind, registration_id, account_id, "PT", ["visitor"], version=2)
             for kind in ("registration_accepted", "registration_updated")]
    other_id = new_id()
    other = profile_event("registration_accepted", other_id, new_id(), "DE", ["host"])
    with Session(db_engines["matching"]) as session:
        written = apply_registration_events(session, [
            (older[0], "handle_registration_accepted"), (newest, "handle_registration_withdrawn"),
            (older[1], "handle_registration_updated"), (other, "handle_registration_accepted")])
        assert set(written) == {registration_id, other_id}
        assert written[registration_id].registration_version == 3
        assert written[registration_id].listed is False
        entry = session.get(CatalogueEntry, registration_id)
        assert (entry.registration_version, entry.listed, entry.profile) == (3, False, {})
        # Every event is claimed, also those the newer one superseded.
        claimed = set(session.scalars(select(InboxEvent.event_id)))
        assert {e["event_id"] for e in (newest, *older, other)} <= claimed
        # Each row got its own change counter value, from one bump.
        seqs = {e.change_seq for e in session.scalars(select(CatalogueEntry).where(
            CatalogueEntry.registration_id.in_([registration_id, other_id])))}
        assert len(seqs) == 2 and projection.current_change_seq(session) == max(seqs)

        # A later, older event of the same registration in another batch changes nothing.
        late = profile_event("registration_updated", registration_id, account_id, "PT",
                             ["visitor"], version=2)
        assert apply_registration_events(session, [(late, "handle_registration_updated")]) == {}
        assert session.get(CatalogueEntry, registration_id).registration_version == 3


def test_a_redelivered_event_in_a_batch_or_after_it_is_applied_once(db_engines):
    from services.matching.catalogue import apply_registration_events

    registration_id = new_id()
    event = profile_event("registration_accepted", registration_id, new_id(), "PT", ["visitor"])
    handler = "handle_registration_accepted"
    with Session(db_engines["matching"]) as session:
        written = apply_registration_events(session, [(event, handler), (event, handler)])
        assert list(written) == [registration_id]
        seq = session.get(CatalogueEntry, registration_id).change_seq
        assert apply_registration_events(session, [(event, handler)]) == {}
        session.expire_all()
        assert session.get(CatalogueEntry, registration_id).change_seq == seq
        assert session.scalar(select(func.count()).select_from(InboxEvent).where(
            InboxEvent.event_id == event["event_id"])) == 1


def test_an_event_that_fails_does_not_hold_back_those_batched_with_it(config, as_account,
                                                                       matching_container):
    good = [profile_event("registration_accepted", new_id(), new_id(), "PT", ["visitor"])
            for _ in range(5)]
    bad = profile_event("registration_accepted", new_id(), new_id(), "PT", ["visitor"])
    del bad["account_id"]  # the catalogue cannot store it: it fails on every delivery
    with deliveries(matching_container, "handle_registration_accepted", 6):
        for event in (*good[:2], bad, *good[2:]):
            publish_event(config, "registration", event)
    admin = as_account(new_id(), ("admin",))
    for event in good:
        wait_for(lambda event=event: listed(admin, event["registration_id"]))
    assert not listed(admin, bad["registration_id"])
