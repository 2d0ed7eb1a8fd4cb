"""The outbox: no event is lost when the service dies between commit and publish, and
consumers apply a redelivered event once."""

from __future__ import annotations

from typing import Any

import eventlet
import pytest
from kombu import Connection, Queue
from nameko.standalone.rpc import ClusterRpcProxy
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
        rpc.registration.update_registration(reg["id"], {"motivation": "x", "version": 1})

    with Session(db_engines["registration"]) as session:
        row = session.scalars(select(OutboxEvent)).one()
        assert row.sent_at is None and row.event_type == "registration_updated"
    first.kill()
    assert queue.get(no_ack=True) is None

    monkeypatch.setattr(outbox, "publish_pending", real_publish)
    second = container_factory(RegistrationService, config)
    second.start()
    message = _get(queue)
    assert message.payload["event_id"] == row.event_id
    assert message.payload["registration_id"] == reg["id"]
    with Session(db_engines["registration"]) as session:
        assert session.scalars(select(OutboxEvent)).one().sent_at is not None
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
    with Connection(config["AMQP_URI"]) as conn:
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
    _publish(config, event, times=3)
    _wait_until(lambda: Probe.applied)
    eventlet.sleep(0.5)
    assert Probe.applied == [event["event_id"]]
    with Session(db_engines["registration"]) as session:
        assert len(session.scalars(select(InboxEvent)).all()) == 1


def test_a_handler_that_fails_gets_the_event_again(probe, config):
    Probe.fail_next.append(True)
    event = make_event("registration_withdrawn", {"registration_id": "r2"})
    _publish(config, event, times=1)
    _wait_until(lambda: Probe.applied)
    assert Probe.applied == [event["event_id"]]
