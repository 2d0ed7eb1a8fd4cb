"""The outbox: no event is lost when the service dies between commit and publish, and
consumers apply a redelivered event once."""

from __future__ import annotations

from typing import Any

import eventlet
import pytest
from kombu import Connection, Queue
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.testing.services import entrypoint_waiter
from sqlalchemy import select
from sqlalchemy.orm import Session

from common import outbox
from common.db import Database
from common.events import event_exchange, handles, make_event
from services.registration.models import InboxEvent, OutboxEvent
from tests.helpers import make_account, partnership_id, registration_payload, unique_email


def _tap(config: dict[str, Any]) -> tuple[Connection, Any]:
    conn = Connection(config["AMQP_URI"])
    queue = Queue("tap", exchange=event_exchange("registration"), routing_key="#",
                  exclusive=True)(conn.default_channel)
    queue.declare()
    return conn, queue


def _get(queue: Any, timeout: float = 10) -> Any:
    deadline = eventlet.timeout.Timeout(timeout)
    try:
        while True:
            message = queue.get(no_ack=True)
            if message is not None:
                return message
            eventlet.sleep(0.05)
    finally:
        deadline.cancel()


def test_killing_the_service_between_commit_and_publish_loses_no_event(
        container_factory, config, db_engines, tokens, monkeypatch):
    from services.registration.service import RegistrationService

    conn, queue = _tap(config)
    stalled = eventlet.event.Event()
    real_publish = outbox.publish_pending

    def publish_never(*args, **kwargs):
        stalled.wait()  # the process "dies" before the relay gets to publish

    monkeypatch.setattr(outbox, "publish_pending", publish_never)
    first = container_factory(RegistrationService, config)
    first.start()

    account = make_account(db_engines["registration"], unique_email(), ["participant"])
    token, _ = tokens.issue(account, ["participant"], None, None)
    with ClusterRpcProxy(config, context_data={"auth_token": token}) as rpc:
        reg = rpc.registration.create_registration(
            registration_payload(partnership_id(db_engines["registration"], "GREENMOB")))
        rpc.registration.withdraw_registration(reg["id"])

    with Session(db_engines["registration"]) as session:
        row = session.scalars(select(OutboxEvent)).one()
        assert row.sent_at is None and row.event_type == "registration_withdrawn"
    first.kill()
    assert queue.get(no_ack=True) is None

    monkeypatch.setattr(outbox, "publish_pending", real_publish)
    second = container_factory(RegistrationService, config)
    second.start()
    message = _get(queue)
    assert message.payload["event_id"] == row.event_id
    assert message.payload["registration_id"] == reg["id"]

    def marked_sent() -> bool:
        # The relay commits sent_at after the broker confirmed: a moment after delivery.
        with Session(db_engines["registration"]) as session:
            return session.scalars(select(OutboxEvent)).one().sent_at is not None

    _wait_until(marked_sent)
    conn.release()


def test_a_failed_publish_is_retried(container_factory, config, db_engines, monkeypatch):
    from services.registration.service import RegistrationService

    conn, queue = _tap(config)
    attempts = []
    real_publish = outbox.publish_pending

    def flaky(*args, **kwargs):
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("broker went away")
        return real_publish(*args, **kwargs)

    monkeypatch.setattr(outbox, "publish_pending", flaky)
    container = container_factory(RegistrationService, config)
    with Session(db_engines["registration"]) as session:
        event = make_event("registration_withdrawn", {"registration_id": "r1"})
        outbox.record_event(session, OutboxEvent, event)
        session.commit()
    container.start()
    message = _get(queue)
    assert message.payload["event_id"] == event["event_id"] and len(attempts) >= 2
    conn.release()


class Probe:
    """A consumer of registration events, as later services will write them."""

    name = "probe"
    db = Database("registration")
    applied: list[str] = []
    fail_next: list[bool] = []

    @handles("registration", "registration_withdrawn")
    def handle_registration_withdrawn(self, payload: dict[str, Any]) -> None:
        session = self.db.session
        if not outbox.first_delivery(session, InboxEvent, payload["event_id"], "probe.withdrawn"):
            return
        if self.fail_next:
            self.fail_next.pop()
            raise RuntimeError("transient failure")
        self.applied.append(payload["event_id"])
        session.commit()


@pytest.fixture
def probe(container_factory, config):
    Probe.applied.clear()
    Probe.fail_next.clear()
    container = container_factory(Probe, config)
    container.start()
    return container


def _publish(config: dict[str, Any], event: dict[str, Any], times: int) -> None:
    # With confirms: a quorum queue may drop what an unconfirmed channel sent just before
    # closing.
    with Connection(config["AMQP_URI"], transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer()
        for _ in range(times):
            producer.publish(event, exchange=event_exchange("registration"),
                             routing_key=event["event_type"], serializer="json",
                             declare=[event_exchange("registration")])


def _wait_until(predicate, timeout: float = 10) -> None:
    with eventlet.Timeout(timeout):
        while not predicate():
            eventlet.sleep(0.05)


def test_redelivered_event_is_applied_once(probe, config, db_engines):
    event = make_event("registration_withdrawn", {"registration_id": "r1"})
    handled = []

    def third(worker_ctx, result, exc_info):
        handled.append(1)
        return len(handled) == 3

    with entrypoint_waiter(probe, "handle_registration_withdrawn", callback=third, timeout=10):
        _publish(config, event, times=3)
    assert Probe.applied == [event["event_id"]]
    with Session(db_engines["registration"]) as session:
        assert len(session.scalars(select(InboxEvent)).all()) == 1


def test_a_handler_that_fails_gets_the_event_again(probe, config):
    Probe.fail_next.append(True)
    event = make_event("registration_withdrawn", {"registration_id": "r2"})
    _publish(config, event, times=1)
    _wait_until(lambda: Probe.applied)
    assert Probe.applied == [event["event_id"]]


def test_sent_outbox_and_old_inbox_rows_are_pruned_after_their_retention(
        container_factory, config, db_engines):
    from datetime import timedelta

    from common.db import utcnow
    from services.registration.service import RegistrationService

    now, old = utcnow(), utcnow() - timedelta(days=8)
    rows = {"old_sent": (old, old), "old_unsent": (old, None), "recent_sent": (now, now)}
    with Session(db_engines["registration"]) as session:
        for name, (created, sent) in rows.items():
            event = make_event("registration_withdrawn", {"registration_id": name})
            session.add(OutboxEvent(event_id=event["event_id"], event_type=event["event_type"],
                                    payload=event, created_at=created, sent_at=sent))
        for index in range(3):
            session.add(InboxEvent(event_id=f"old-{index}", handler="h", processed_at=old))
        session.add(InboxEvent(event_id="recent", handler="h", processed_at=now))
        session.commit()
        assert outbox.prune(session, OutboxEvent, InboxEvent, 7, 7, batch=2) == 4

    def remaining() -> tuple[set[str], set[str]]:
        with Session(db_engines["registration"]) as session:
            return ({row.payload["registration_id"] for row in session.scalars(select(OutboxEvent))},
                    set(session.scalars(select(InboxEvent.event_id))))

    assert remaining() == ({"old_unsent", "recent_sent"}, {"recent"})

    # The relay of every service prunes on its own (first one interval after its start, at
    # most a minute): rows age past a one-day retention.
    with Session(db_engines["registration"]) as session:
        session.execute(OutboxEvent.__table__.update().values(sent_at=old))
        session.execute(InboxEvent.__table__.update().values(processed_at=old))
        session.commit()
    container_factory(RegistrationService, {**config, "OUTBOX_RETENTION_DAYS": 1,
                                            "INBOX_RETENTION_DAYS": 1,
                                            "OUTBOX_PRUNE_SECONDS": 0.5}).start()
    _wait_until(lambda: remaining() == (set(), set()))


def _commit_events(engine, *event_types: str) -> list[str]:
    with Session(engine) as session:
        events = [make_event(event_type, {"registration_id": f"r{n}"})
                  for n, event_type in enumerate(event_types)]
        for event in events:
            outbox.record_event(session, OutboxEvent, event)
        session.commit()
    return [event["event_id"] for event in events]


def _sent(engine) -> dict[str, bool]:
    with Session(engine) as session:
        return {row.event_id: row.sent_at is not None
                for row in session.scalars(select(OutboxEvent).order_by(OutboxEvent.id))}


def test_a_batch_is_confirmed_once_and_every_row_marked_sent(config, db_engines):
    conn, queue = _tap(config)
    ids = _commit_events(db_engines["registration"], *["registration_withdrawn"] * 50)
    publisher = outbox.BatchPublisher(config["AMQP_URI"], "registration")
    with Session(db_engines["registration"]) as session:
        assert outbox.publish_pending(session, OutboxEvent, config["AMQP_URI"], "registration",
                                      200, publisher) == 50
    # The channel is kept for the next batch, whose delivery tags go on from the last.
    more = _commit_events(db_engines["registration"], "registration_updated")
    with Session(db_engines["registration"]) as session:
        assert outbox.publish_pending(session, OutboxEvent, config["AMQP_URI"], "registration",
                                      200, publisher) == 1
    publisher.close()
    assert all(_sent(db_engines["registration"]).values())
    received = [_get(queue).payload["event_id"] for _ in range(51)]
    assert received == ids + more
    conn.release()


def test_a_nack_in_the_middle_of_a_batch_leaves_it_and_every_later_row_unsent(config, db_engines):
    """A queue that refuses messages beyond two makes the broker nack the third
    `registration_withdrawn`; the `registration_updated` after it is confirmed by the broker
    but must stay unsent, so that it is not published before the refused one."""
    conn = Connection(config["AMQP_URI"])
    full = Queue("full_after_two", exchange=event_exchange("registration"),
                 routing_key="registration_withdrawn", exclusive=True,
                 queue_arguments={"x-max-length": 2, "x-overflow": "reject-publish"})
    full(conn.default_channel).declare()
    ids = _commit_events(db_engines["registration"], "registration_withdrawn",
                         "registration_withdrawn", "registration_withdrawn", "registration_updated")
    with Session(db_engines["registration"]) as session, pytest.raises(outbox.PublishIncomplete):
        outbox.publish_pending(session, OutboxEvent, config["AMQP_URI"], "registration", 200)
    assert _sent(db_engines["registration"]) == dict(zip(ids, [True, True, False, False], strict=True))

    # Once the queue has room again, the relay goes on from the refused row.
    full(conn.default_channel).purge()
    with Session(db_engines["registration"]) as session:
        assert outbox.publish_pending(session, OutboxEvent, config["AMQP_URI"], "registration",
                                      200) == 2
    assert all(_sent(db_engines["registration"]).values())
    conn.release()


def test_a_channel_lost_in_the_middle_of_a_batch_marks_nothing_sent(config, db_engines):
    """The exchange is deleted under the relay's open channel: RabbitMQ closes the channel
    at the first publish, and no row of the batch is marked sent."""
    ids = _commit_events(db_engines["registration"], "registration_withdrawn")
    publisher = outbox.BatchPublisher(config["AMQP_URI"], "registration")
    with Session(db_engines["registration"]) as session:
        assert outbox.publish_pending(session, OutboxEvent, config["AMQP_URI"], "registration",
                                      200, publisher) == 1
    with Connection(config["AMQP_URI"]) as conn:
        conn.default_channel.exchange_delete(event_exchange("registration").name)
    later = _commit_events(db_engines["registration"], "registration_withdrawn",
                           "registration_updated")
    with Session(db_engines["registration"]) as session, pytest.raises(Exception):  # noqa: B017
        outbox.publish_pending(session, OutboxEvent, config["AMQP_URI"], "registration", 200,
                               publisher)
    assert _sent(db_engines["registration"]) == {ids[0]: True, later[0]: False, later[1]: False}
    # A new channel declares the exchange again and publishes both.
    with Session(db_engines["registration"]) as session:
        assert outbox.publish_pending(session, OutboxEvent, config["AMQP_URI"], "registration",
                                      200, publisher) == 2
    publisher.close()
    assert all(_sent(db_engines["registration"]).values())


def test_a_commit_in_another_process_wakes_the_relay_without_waiting_for_the_poll(
        container_factory, config, db_engines):
    """On PostgreSQL the commit's NOTIFY wakes the relay; the poll is set to a minute here."""
    from common.db import is_postgres
    from services.registration.service import RegistrationService

    if not is_postgres(db_engines["registration"]):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite relays poll")
    conn, queue = _tap(config)
    container = container_factory(RegistrationService, {**config, "OUTBOX_POLL_SECONDS": 60})
    container.start()
    eventlet.sleep(0.5)  # the relay's first pass and its LISTEN
    # A session of "another process": the service's own Database hooks send the NOTIFY.
    database = next(dep for dep in container.extensions if isinstance(dep, Database))
    with database.new_session() as session:
        event = make_event("registration_withdrawn", {"registration_id": "elsewhere"})
        outbox.record_event(session, OutboxEvent, event)
        database._commit_listeners.clear()  # no in-process wake-up: only the NOTIFY is left
        session.commit()
    assert _get(queue, timeout=10).payload["event_id"] == event["event_id"]
    conn.release()
