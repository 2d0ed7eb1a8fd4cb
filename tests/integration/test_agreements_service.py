"""The agreements service through the broker: stays that start and end by themselves, and
payments' events that approve, pay and close an exchange — each applied once."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from nameko.testing.services import entrypoint_hook, entrypoint_waiter
from sqlalchemy import select
from sqlalchemy.orm import Session

from common.events import make_event
from services.agreements import lifecycle as lc
from services.agreements.models import Exchange, OutboxEvent, TimelineEntry
from tests.helpers import publish_event


def _exchange(engine: Any, status: str, start: date, end: date) -> str:
    exchange_id = str(uuid.uuid4())
    with Session(engine) as session:
        session.add(Exchange(
            id=exchange_id, reference=f"CXC-2026-{uuid.uuid4().int % 999999:06d}", status=status,
            proposed_by="acc-vo", proposer_party="vo", plan={"mode": "physical"},
            start_date=start.isoformat(), end_date=end.isoformat(), content_version=1,
            visitor_registration_id="reg-vo", visitor_account_id="acc-vo",
            visitor_organisation_id=str(uuid.uuid4()), visitor_organisation_name="VO",
            visitor_country="PT", visitor_partnership_id="p-vo",
            host_registration_id="reg-ho", host_account_id="acc-ho",
            host_organisation_id=str(uuid.uuid4()), host_organisation_name="HO",
            host_country="DE", host_partnership_id="p-ho"))
        session.commit()
    return exchange_id


def _state(engine: Any, exchange_id: str) -> str:
    with Session(engine) as session:
        return session.get(Exchange, exchange_id).status


def _events(engine: Any, exchange_id: str) -> list[str]:
    with Session(engine) as session:
        rows = session.scalars(select(OutboxEvent).order_by(OutboxEvent.id)).all()
        return [row.event_type for row in rows if row.payload.get("exchange_id") == exchange_id]


def test_stays_start_on_their_first_day_and_complete_after_their_last(
        agreements_container, db_engines):
    engine = db_engines["agreements"]
    today = datetime.now(UTC).date()
    starting = _exchange(engine, lc.READY, today, today + timedelta(days=4))
    not_yet = _exchange(engine, lc.READY, today + timedelta(days=1), today + timedelta(days=5))
    ending = _exchange(engine, lc.IN_PROGRESS, today - timedelta(days=5), today - timedelta(days=1))
    still_on = _exchange(engine, lc.IN_PROGRESS, today - timedelta(days=2), today)
    for _ in range(2):  # a second tick (or a second instance) changes nothing more
        with entrypoint_hook(agreements_container, "move_stays") as move:
            move()
    assert _state(engine, starting) == lc.IN_PROGRESS
    assert _state(engine, not_yet) == lc.READY
    assert _state(engine, ending) == lc.COMPLETED
    assert _state(engine, still_on) == lc.IN_PROGRESS
    assert _events(engine, starting) == ["exchange_started"]
    assert _events(engine, ending) == ["exchange_completed"]


def _payment_event(event_type: str, exchange_id: str, attempt: int = 0) -> dict[str, Any]:
    return make_event(event_type, {"payout_id": str(uuid.uuid4()), "exchange_id": exchange_id,
                                   "amount_cents": 78000, "partnership_id": "p-vo",
                                   "attempt": attempt})


def _deliver(container: Any, config: Any, handler: str, event: dict[str, Any]) -> None:
    with entrypoint_waiter(container, handler, callback=_deliveries(1)):
        publish_event(config, "payments", event)


def test_payments_events_approve_pay_and_close_an_exchange_once(
        agreements_container, config, db_engines):
    engine = db_engines["agreements"]
    exchange_id = _exchange(engine, lc.REPORTED, date(2026, 3, 2), date(2026, 3, 6))
    approved = _payment_event("payout_approved", exchange_id)
    with entrypoint_waiter(agreements_container, "handle_payout_approved",
                           callback=_deliveries(2)):
        publish_event(config, "payments", approved, times=2)  # delivered twice
    assert _state(engine, exchange_id) == lc.APPROVED
    paid = _payment_event("payout_paid", exchange_id)
    with entrypoint_waiter(agreements_container, "handle_payout_paid", callback=_deliveries(2)):
        publish_event(config, "payments", paid, times=2)
    assert _state(engine, exchange_id) == lc.CLOSED
    with Session(engine) as session:
        steps = session.scalars(select(TimelineEntry.action).where(
            TimelineEntry.exchange_id == exchange_id).order_by(TimelineEntry.at)).all()
    assert steps == [lc.APPROVE_PAYOUT, lc.PAY, lc.CLOSE]
    assert _events(engine, exchange_id) == ["exchange_closed"]


def _deliveries(count: int):
    """An entrypoint_waiter callback that is done after `count` handled deliveries."""
    seen = []

    def done(worker_ctx: Any, result: Any, exc_info: Any) -> bool:
        seen.append(exc_info)
        assert exc_info is None, exc_info
        return len(seen) >= count

    return done


def test_a_returned_transfer_reopens_a_closed_exchange_until_the_next_run_pays_it(
        agreements_container, config, db_engines):
    engine = db_engines["agreements"]
    exchange_id = _exchange(engine, lc.REPORTED, date(2026, 3, 2), date(2026, 3, 6))
    _deliver(agreements_container, config, "handle_payout_approved",
             _payment_event("payout_approved", exchange_id))
    _deliver(agreements_container, config, "handle_payout_paid",
             _payment_event("payout_paid", exchange_id, attempt=1))
    assert _state(engine, exchange_id) == lc.CLOSED
    returned = _payment_event("payout_failed", exchange_id, attempt=1)
    with entrypoint_waiter(agreements_container, "handle_payout_failed", callback=_deliveries(2)):
        publish_event(config, "payments", returned, times=2)  # delivered twice
    assert _state(engine, exchange_id) == lc.APPROVED
    _deliver(agreements_container, config, "handle_payout_paid",
             _payment_event("payout_paid", exchange_id, attempt=2))
    assert _state(engine, exchange_id) == lc.CLOSED
    with Session(engine) as session:
        steps = session.scalars(select(TimelineEntry.action).where(
            TimelineEntry.exchange_id == exchange_id).order_by(TimelineEntry.at)).all()
    assert steps == [lc.APPROVE_PAYOUT, lc.PAY, lc.CLOSE, lc.RETURN_PAYOUT, lc.PAY, lc.CLOSE]
    assert _events(engine, exchange_id) == ["exchange_closed", "exchange_closed"]


def test_a_payout_event_handled_after_a_later_one_changes_nothing(
        agreements_container, config, db_engines):
    """The run's failure overtook its `payout_paid` (separate queues): the exchange stays
    approved, waiting for the next run, instead of closing on the stale event."""
    engine = db_engines["agreements"]
    exchange_id = _exchange(engine, lc.REPORTED, date(2026, 3, 2), date(2026, 3, 6))
    _deliver(agreements_container, config, "handle_payout_approved",
             _payment_event("payout_approved", exchange_id))
    _deliver(agreements_container, config, "handle_payout_failed",
             _payment_event("payout_failed", exchange_id, attempt=1))
    _deliver(agreements_container, config, "handle_payout_paid",
             _payment_event("payout_paid", exchange_id, attempt=1))
    assert _state(engine, exchange_id) == lc.APPROVED
    _deliver(agreements_container, config, "handle_payout_paid",
             _payment_event("payout_paid", exchange_id, attempt=2))
    assert _state(engine, exchange_id) == lc.CLOSED
