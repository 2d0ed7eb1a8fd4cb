"""Reminders of stale steps: the pending-steps projection (a reaction) and the timer.

Safe with several instances: the timer claims due steps with FOR UPDATE SKIP LOCKED on
PostgreSQL (two instances take disjoint rows) and, on every database, with a conditional
update of the step's counter (`reminders_sent` moves from what this instance read to the next
number, or this instance lost the step); the unique (step, round, n) of `step_reminders`
is the last word. Reminders are essential: inbox and email, whatever the preferences.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from typing import Any

from nameko.timer import timer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from common.db import dialect_insert, is_postgres, utcnow
from services.notifications import domain, steps
from services.notifications.notices import Person, notice_id, tell
from services.notifications.support_models import PendingStep, StepReminder

log = logging.getLogger(__name__)

REMINDER_CHECK_SECONDS = float(os.environ.get("REMINDER_CHECK_SECONDS", "300"))
REMINDER_KIND = "step_reminder"
_S = PendingStep.__table__
NEVER = datetime(1970, 1, 1, tzinfo=UTC)  # a placeholder's `changed_at`: any event is newer


def track(session: Session, event: dict[str, Any], settings: steps.Settings) -> None:
    """Open, narrow or clear the steps an event concerns. An event older than the last one
    applied to a step changes nothing (events of different sources may cross)."""
    occurred = steps.parse_time(event["occurred_at"])
    for spec in steps.completed(event):
        key = steps.step_key(spec, event)
        row = _insert_or_lock(session, key, kind=spec.kind, rules=[], subject=steps.subject_of(event),
                              since=occurred, due_at=occurred, next_at=None, round=0,
                              reminders_sent=0, changed_at=occurred, cleared_at=occurred)
        if row is not None and row.changed_at <= occurred:
            row.cleared_at, row.next_at, row.changed_at = occurred, None, occurred
        session.flush()
    if event.get("event_type") == "commitment_signed" and event.get("exchange_id"):
        _record_signature(session, event, occurred)
    for spec in steps.opened(event):
        key = steps.step_key(spec, event)
        due = steps.first_due(spec.kind, event, settings)
        fields = {"kind": spec.kind, "rules": steps.rules_as_rows(spec.rules),
                  "subject": steps.subject_of(event), "since": occurred, "due_at": due, "next_at": due,
                  "reminders_sent": 0, "changed_at": occurred, "cleared_at": None}
        row = _insert_or_lock(session, key, round=1, done=[], **fields)
        if row is not None and row.changed_at <= occurred:
            for name, value in fields.items():
                setattr(row, name, value)
            row.round += 1
        session.flush()


def _insert_or_lock(session: Session, key: str, **values: Any) -> PendingStep | None:
    """Inserts the step and returns None; or, when it exists (perhaps made this instant by
    another instance handling another event), returns it locked. Two events opening one step
    at once then wait for each other instead of one failing on the primary key."""
    insert = dialect_insert(session)(PendingStep.__table__).values(step_key=key, **values)
    if session.execute(insert.on_conflict_do_nothing(index_elements=["step_key"])).rowcount == 1:
        return None
    return session.get(PendingStep, key, with_for_update=is_postgres(session), populate_existing=True)


def _record_signature(session: Session, event: dict[str, Any], occurred: datetime) -> None:
    """Remember who signed, even before the signature step is opened (another instance may
    still be handling the validation): a placeholder that is never due until it opens."""
    key = f"{steps.SIGNATURE}:{event['exchange_id']}"
    signed = [str(event.get("content_version") or ""), str(event.get("party") or "")]
    row = _insert_or_lock(session, key, kind=steps.SIGNATURE, rules=[], subject={}, done=[signed],
                          since=occurred, due_at=occurred, next_at=None, round=0,
                          reminders_sent=0, changed_at=NEVER, cleared_at=None)
    if row is not None and signed not in row.done:
        row.done = [*row.done, signed]
    session.flush()


def due_steps(session: Session, now: datetime, batch: int) -> list[PendingStep]:
    query = (select(PendingStep).where(PendingStep.cleared_at.is_(None), PendingStep.next_at <= now)
             .order_by(PendingStep.next_at).limit(batch))
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


def claim(session: Session, step: PendingStep, n: int, settings: steps.Settings) -> bool:
    """Move the step's counter from what we read to `n`; False when another instance did."""
    moved = session.execute(update(_S).where(
        _S.c.step_key == step.step_key, _S.c.round == step.round,
        _S.c.reminders_sent == step.reminders_sent, _S.c.cleared_at.is_(None)).values(
        reminders_sent=n, next_at=steps.next_at(step.due_at, n, settings))
        .execution_options(synchronize_session=False)).rowcount
    if moved != 1:
        return False
    return session.execute(dialect_insert(session)(StepReminder).values(
        id=notice_id("reminder-row", step.step_key, step.round, n), step_key=step.step_key,
        round=step.round, n=n, recipients=0, sent_at=utcnow()).on_conflict_do_nothing()).rowcount == 1


def run_reminders(session: Session, now: datetime, settings: steps.Settings, notices: dict[str, Any],
                  directory: Any, batch: int = 100) -> int:
    """Send the reminders due at `now`; how many (step, n) were sent. `directory(lookups)` is
    registration's `notification_recipients`."""
    sent = 0
    for step in due_steps(session, now, batch):
        n = steps.reminder_number(step.due_at, now, settings)
        if n <= step.reminders_sent:
            # Already reminded for this interval (a shorter repeat since): wait for the next.
            session.execute(update(_S).where(_S.c.step_key == step.step_key).values(
                next_at=steps.next_at(step.due_at, step.reminders_sent, settings)))
            continue
        if not claim(session, step, n, settings):
            continue
        rules = steps.rules_from_rows(steps.still_to_act(step.rules, step.done or [], step.subject))
        subject = dict(step.subject)
        found = directory(domain.lookups(subject, rules).as_request()) if rules else {}
        people = domain.recipients(subject, rules, found)
        names = domain.template_context(subject, found)
        told = tell(session, notices, kind=REMINDER_KIND,
                    notice=notice_id(step.step_key, step.round, n),
                    people=[Person(p.role, p.email, p.account_id, p.name) for p in people],
                    context={**subject, **names, "step": step.kind, "n": n,
                             "since": step.since.date().isoformat(),
                             "last": n >= settings.max_reminders},
                    link=domain.link_path(subject), reference=subject.get("reference"))
        session.execute(update(StepReminder.__table__).where(
            StepReminder.__table__.c.step_key == step.step_key,
            StepReminder.__table__.c.round == step.round, StepReminder.__table__.c.n == n)
            .values(recipients=told))
        sent += 1
    session.commit()
    return sent


def reminder_settings(config: dict[str, Any]) -> steps.Settings:
    matching = config.get("MATCHING") or {}
    return steps.Settings.from_config((config.get("NOTIFICATIONS") or {}).get("reminders"),
                                      matching.get("contact_expiry_days"))


class Reminders:
    def react_track_steps(self, session: Session, event: dict[str, Any]) -> None:
        track(session, event, reminder_settings(self.config))

    @timer(interval=REMINDER_CHECK_SECONDS)
    def send_reminders(self) -> int:
        return self.remind_at(utcnow())

    def remind_at(self, now: datetime) -> int:
        return run_reminders(self.db.session, now, reminder_settings(self.config),
                             self.config["NOTIFICATIONS"], self._ask_directory)

    def _ask_directory(self, lookups: dict[str, Any]) -> dict[str, Any]:
        return self.rpc_client.call("registration", "notification_recipients", lookups,
                                    auth_token=self.identity.token)
