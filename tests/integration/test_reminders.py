"""Reminders of pending steps with real events, real services and two notifications instances
whose timers race: each reminder goes out once per step and interval."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import eventlet
import pytest
from nameko.testing.services import entrypoint_hook
from sqlalchemy import text

from common.events import make_event
from services.notifications.steps import still_to_act
from tests.helpers import make_account, partnership_id, publish_event, unique_email


def wait_for(condition, timeout: float = 20, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def rows(db_engines, sql: str, **params: Any) -> list[Any]:
    with db_engines["notifications"].connect() as conn:
        return conn.execute(text(sql), params).all()


def submitted(partnership: str, days_ago: float, registration_id: str) -> dict[str, Any]:
    event = make_event("registration_submitted", {
        "registration_id": registration_id, "reference": f"CX-{registration_id[:8].upper()}",
        "partnership_id": partnership, "status": "submitted", "registration_version": 2})
    event["occurred_at"] = (datetime.now(UTC) - timedelta(days=days_ago)).isoformat()
    return event


@pytest.fixture
def two_instances(container_factory, config, registration_container, notifications_container):
    from services.notifications.service import NotificationsService

    second = container_factory(NotificationsService, config)
    second.start()
    return [notifications_container, second]


def _race(instances: list[Any]) -> list[int]:
    """Both instances' timer entrypoint at once."""

    def fire(container: Any) -> int:
        with entrypoint_hook(container, "send_reminders") as send:
            return send()

    pool = eventlet.GreenPool()
    return list(pool.imap(fire, instances))


def test_two_timers_racing_send_each_due_reminder_once(two_instances, db_engines, config):
    greenmob = partnership_id(db_engines["registration"], "GREENMOB")
    contact_email = unique_email("contact")
    make_account(db_engines["registration"], contact_email, ["partnership_contact"], "GREENMOB")
    ids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(12)]
    for registration_id in ids:
        publish_event(config, "registration", submitted(greenmob, 6, registration_id))
    wait_for(lambda: len(rows(db_engines, "SELECT * FROM pending_steps")) == 12, what="12 steps")

    sent = _race(two_instances)
    assert sum(sent) == 12
    reminders = rows(db_engines, "SELECT step_key, n FROM step_reminders")
    assert sorted(r.step_key for r in reminders) == sorted(f"assessment:{i}" for i in ids)
    assert {r.n for r in reminders} == {1}
    queued = rows(db_engines, "SELECT * FROM email_messages WHERE event_type = 'step_reminder' "
                              "AND to_address = :to", to=contact_email)
    assert len(queued) == 12
    assert "waits for your assessment" in queued[0].subject

    # The same interval again: nothing more, however many timers run.
    assert sum(_race(two_instances)) == 0
    assert len(rows(db_engines, "SELECT * FROM step_reminders")) == 12


def test_a_step_completed_before_its_reminder_is_not_reminded(two_instances, db_engines, config):
    greenmob = partnership_id(db_engines["registration"], "GREENMOB")
    make_account(db_engines["registration"], unique_email("contact"), ["partnership_contact"], "GREENMOB")
    opened = submitted(greenmob, 6, "00000000-0000-4000-8000-0000000000aa")
    publish_event(config, "registration", opened)
    accepted = make_event("registration_accepted", {"registration_id": opened["registration_id"],
                                                    "partnership_id": greenmob, "status": "accepted"})
    publish_event(config, "registration", accepted)
    wait_for(lambda: rows(db_engines, "SELECT * FROM pending_steps WHERE cleared_at IS NOT NULL"),
             what="the step cleared")
    assert sum(_race(two_instances)) == 0
    assert rows(db_engines, "SELECT * FROM step_reminders") == []

    # An older event arriving late does not open the step again.
    late = dict(opened, event_id=make_event("registration_submitted", {})["event_id"])
    publish_event(config, "registration", late)
    wait_for(lambda: rows(db_engines, "SELECT * FROM inbox WHERE event_id = :e", e=late["event_id"]),
             what="the late event handled")
    [step] = rows(db_engines, "SELECT * FROM pending_steps")
    assert step.cleared_at is not None


def test_later_intervals_remind_again_up_to_the_maximum(two_instances, db_engines, config):
    from services.notifications.reminders import REMINDER_KIND  # noqa: F401 - the kind exists

    greenmob = partnership_id(db_engines["registration"], "GREENMOB")
    make_account(db_engines["registration"], unique_email("contact"), ["partnership_contact"], "GREENMOB")
    # Due 6 days after submission (5 + a day ago: interval 1), then every 7 days, 3 at most.
    publish_event(config, "registration", submitted(greenmob, 6, "00000000-0000-4000-8000-0000000000bb"))
    wait_for(lambda: rows(db_engines, "SELECT * FROM pending_steps"), what="the step")
    instance = two_instances[0]
    with entrypoint_hook(instance, "send_reminders") as send:
        assert send() == 1
    [step] = rows(db_engines, "SELECT * FROM pending_steps")
    assert step.reminders_sent == 1 and step.next_at == step.due_at + timedelta(days=7)


def test_a_signature_narrows_who_is_reminded(two_instances, db_engines, config):
    exchange = "00000000-0000-4000-8000-0000000000cc"
    fields = {"exchange_id": exchange, "reference": "CXC-2026-000777", "status": "validated",
              "visitor_registration_id": "r-v", "host_registration_id": "r-h",
              "visitor_partnership_id": "p-v", "host_partnership_id": "p-h", "content_version": 3}
    validated = make_event("exchange_validated", fields)
    publish_event(config, "agreements", validated)
    signed = make_event("commitment_signed", {**fields, "party": "vo"})
    publish_event(config, "agreements", signed)
    wait_for(lambda: rows(db_engines, "SELECT * FROM inbox WHERE event_id = :e", e=signed["event_id"]),
             what="the signature handled")
    # The two instances compete for events: the signature may be handled before the validation.
    wait_for(lambda: rows(db_engines, "SELECT * FROM inbox WHERE event_id = :e", e=validated["event_id"]),
             what="the validation handled")
    [step] = rows(db_engines, "SELECT * FROM pending_steps WHERE kind = 'signature'")
    assert step.round == 1 and step.next_at is not None and step.done == [["3", "vo"]]
    left = still_to_act(step.rules, step.done, step.subject)
    assert [rule[0] for rule in left] == ["host", "visitor_contact_point", "host_contact_point"]
    publish_event(config, "agreements", make_event("commitment_fully_signed", fields))
    wait_for(lambda: rows(db_engines, "SELECT * FROM pending_steps WHERE kind = 'financial_agreement'"),
             what="the financial agreement step")
    [step] = rows(db_engines, "SELECT * FROM pending_steps WHERE kind = 'signature'")
    assert step.cleared_at is not None
