"""Reminders on SQLite (the embedded default): two timers that both read a due step before
either claims it send it once (the conditional update decides); tracking follows the order
of events, not of their arrival."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from services.notifications import reminders, steps
from services.notifications.models import Base, EmailMessage, Notification
from services.notifications.support_models import PendingStep, StepReminder

NOTICES = {"public_base_url": "http://cxc.test", "email_from": "ClusterXchange <no-reply@cxc.test>"}
SETTINGS = steps.Settings()


@pytest.fixture
def engines(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'notifications.db'}"
    first, second = create_engine(url), create_engine(url)
    Base.metadata.create_all(first)
    yield first, second
    first.dispose()
    second.dispose()


def directory(_lookups):
    return {"contact_points": {"p1": [{"account_id": "a-contact", "name": "Cora", "email": "cora@cxc.test"}]},
            "accounts": {}, "registrations": {}, "partnerships": {}}


def event(event_type: str, at: datetime, **fields) -> dict:
    return {"event_id": f"{event_type}-{at.isoformat()}", "event_type": event_type,
            "occurred_at": at.isoformat(), **fields}


def test_two_timers_that_read_the_same_due_step_send_it_once(engines):
    opened_at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    with Session(engines[0]) as session:
        reminders.track(session, event("registration_submitted", opened_at, registration_id="r1",
                                       partnership_id="p1", reference="CX-R1"), SETTINGS)
        session.commit()
    now = opened_at + timedelta(days=6)
    a, b = Session(engines[0]), Session(engines[1])
    [step_a] = reminders.due_steps(a, now, 10)
    [step_b] = reminders.due_steps(b, now, 10)
    a.rollback()  # SQLite: a reader holds no lock; both saw reminders_sent == 0
    assert reminders.claim(a, step_a, 1, SETTINGS) is True
    a.commit()
    assert reminders.claim(b, step_b, 1, SETTINGS) is False
    b.rollback()
    a.close()
    b.close()
    with Session(engines[0]) as session:
        assert [(r.step_key, r.n) for r in session.scalars(select(StepReminder))] == [("assessment:r1", 1)]


def test_a_run_tells_the_contact_point_once_per_interval(engines):
    opened_at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    with Session(engines[0]) as session:
        reminders.track(session, event("registration_submitted", opened_at, registration_id="r1",
                                       partnership_id="p1", reference="CX-R1"), SETTINGS)
        session.commit()
    due = opened_at + timedelta(days=5)
    for now, expected in ((due - timedelta(hours=1), 0), (due, 1), (due + timedelta(days=1), 0),
                          (due + timedelta(days=7), 1), (due + timedelta(days=30), 1),
                          (due + timedelta(days=60), 0)):
        for engine in engines:  # two instances, one after the other
            with Session(engine) as session:
                sent = reminders.run_reminders(session, now, SETTINGS, NOTICES, directory)
                assert sent == (expected if engine is engines[0] else 0), now
    with Session(engines[0]) as session:
        assert [r.n for r in session.scalars(select(StepReminder).order_by(StepReminder.n))] == [1, 2, 3]
        emails = list(session.scalars(select(EmailMessage)))
        assert len(emails) == 3 and {e.to_address for e in emails} == {"cora@cxc.test"}
        assert len(list(session.scalars(select(Notification)))) == 3


def test_a_late_opening_event_does_not_revive_a_completed_step(engines):
    opened_at = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    submitted = event("registration_submitted", opened_at, registration_id="r1", partnership_id="p1")
    accepted = event("registration_accepted", opened_at + timedelta(hours=1), registration_id="r1")
    with Session(engines[0]) as session:
        reminders.track(session, accepted, SETTINGS)
        reminders.track(session, submitted, SETTINGS)
        session.commit()
        [step] = session.scalars(select(PendingStep))
        assert step.cleared_at is not None
        resubmitted = event("registration_submitted", opened_at + timedelta(days=2), registration_id="r1",
                            partnership_id="p1")
        reminders.track(session, resubmitted, SETTINGS)
        session.commit()
        session.refresh(step)
        assert step.cleared_at is None and step.round == 1
        assert step.due_at == opened_at + timedelta(days=7)
