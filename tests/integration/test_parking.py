"""Poison events: a handler that keeps failing parks its event after the delivery limit,
`replay` puts it back once the handler works, and a transient failure is retried."""

from __future__ import annotations

from typing import Any

import eventlet
import pytest
from kombu import Connection
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common import parking
from common.db import Database
from common.events import DELIVERY_LIMIT, handles, make_event, subscriber_queue
from common.outbox import IncompatibleQueue, declare_topology, first_delivery, prepare_queue
from services.registration.models import InboxEvent
from tests.helpers import publish_event


class Flaky:
    """Consumes registration_withdrawn; fails while `failures` says so."""

    name = "flaky"
    db = Database("registration")
    attempts: list[str] = []
    applied: list[str] = []
    failures: list[int] = [0]  # how many more calls fail; -1: all of them

    @handles("registration", "registration_withdrawn")
    def handle_registration_withdrawn(self, payload: dict[str, Any]) -> None:
        self.attempts.append(payload["event_id"])
        session = self.db.session
        if not first_delivery(session, InboxEvent, payload["event_id"], "flaky.withdrawn"):
            return
        if self.failures[0]:
            self.failures[0] -= 1
            raise RuntimeError("cannot apply this event")
        self.applied.append(payload["event_id"])
        session.commit()


@pytest.fixture
def flaky(container_factory, config):
    Flaky.attempts.clear()
    Flaky.applied.clear()
    Flaky.failures[0] = 0
    config = {**config, "EVENT_RETRY_BASE_SECONDS": 0.001, "EVENT_RETRY_CAP_SECONDS": 0.01}
    container = container_factory(Flaky, config)
    container.start()
    return container


def wait_for(predicate, timeout: float = 15.0) -> Any:
    with eventlet.Timeout(timeout):
        while True:
            value = predicate()
            if value:
                return value
            eventlet.sleep(0.05)


def parked(config) -> list[parking.ParkedEvent]:
    return parking.list_parked(config["AMQP_URI"], ["flaky"])


def test_an_event_that_always_fails_is_parked_and_replayed_once_fixed(flaky, config, db_engines):
    Flaky.failures[0] = -1
    event = make_event("registration_withdrawn", {"registration_id": "r1"})
    publish_event(config, "registration", event)
    found = wait_for(lambda: parked(config))
    assert [p.event_id for p in found] == [event["event_id"]]
    assert found[0].queue == "evt-registration-registration_withdrawn--flaky.handle_registration_withdrawn"
    assert found[0].reason == "delivery_limit" and found[0].event_type == "registration_withdrawn"
    assert len(Flaky.attempts) == DELIVERY_LIMIT + 1 and Flaky.applied == []
    assert [p.event_id for p in parked(config)] == [event["event_id"]]  # listing keeps them

    Flaky.failures[0] = 0  # the handler is fixed
    replayed = parking.replay(config["AMQP_URI"], ["flaky"], [event["event_id"]])
    assert [p.event_id for p in replayed] == [event["event_id"]]
    wait_for(lambda: Flaky.applied)
    assert Flaky.applied == [event["event_id"]]
    assert parked(config) == []
    with Session(db_engines["registration"]) as session:
        assert session.scalar(select(func.count()).select_from(InboxEvent)) == 1


def test_a_transient_failure_is_retried_and_applied_once(flaky, config):
    Flaky.failures[0] = 2
    event = make_event("registration_withdrawn", {"registration_id": "r2"})
    publish_event(config, "registration", event)
    wait_for(lambda: Flaky.applied)
    assert Flaky.applied == [event["event_id"]] and len(Flaky.attempts) == 3
    assert parked(config) == []


def test_an_empty_classic_queue_is_redeclared_and_a_busy_one_is_reported(config):
    queue = subscriber_queue("registration", "registration_withdrawn",
                             "evt-registration-registration_withdrawn--old.handle", "old")
    with Connection(config["AMQP_URI"]) as conn:
        parking.declare_parking(conn, "old")
        classic = conn.SimpleQueue(queue.name)
        prepare_queue(conn, queue)  # empty: replaced
        queue(conn.channel()).declare()  # a quorum queue now: the same arguments are accepted
        conn.channel().queue_delete(queue.name)
        classic = conn.SimpleQueue(queue.name)
        classic.put({"event_id": "kept"})
        with pytest.raises(IncompatibleQueue, match="rabbitmqctl delete_queue"):
            prepare_queue(conn, queue)
        assert classic.get(timeout=2).payload == {"event_id": "kept"}
        classic.close()
    declare_topology(config["AMQP_URI"], "registration")


def test_cxc_events_lists_and_replays_parked_events(flaky, config, monkeypatch):
    from click.testing import CliRunner

    from cli.main import cli

    monkeypatch.setenv("AMQP_URI", config["AMQP_URI"])
    Flaky.failures[0] = -1
    events = [make_event("registration_withdrawn", {"registration_id": name})
              for name in ("r3", "r4")]
    for event in events:
        publish_event(config, "registration", event)
    wait_for(lambda: len(parked(config)) == 2)
    runner = CliRunner()
    listed = runner.invoke(cli, ["events", "parked", "--service", "flaky"])
    assert listed.exit_code == 0, listed.output
    assert all(e["event_id"] in listed.output for e in events)
    assert "reason=delivery_limit" in listed.output and "2 parked event(s)" in listed.output
    assert runner.invoke(cli, ["events", "replay", "--service", "flaky"]).exit_code != 0

    Flaky.failures[0] = 0
    replayed = runner.invoke(cli, ["events", "replay", "--service", "flaky", "--id",
                                   events[1]["event_id"]])
    assert replayed.exit_code == 0, replayed.output
    wait_for(lambda: Flaky.applied)
    assert [p.event_id for p in parked(config)] == [events[0]["event_id"]]
    assert runner.invoke(cli, ["events", "replay", "--service", "flaky", "--all"]).exit_code == 0
    wait_for(lambda: len(Flaky.applied) == 2)
    assert sorted(Flaky.applied) == sorted(e["event_id"] for e in events)


class TwoHandlers:
    name = "twohandlers"

    @handles("registration", "registration_withdrawn")
    def on_withdrawn(self, payload: dict[str, Any]) -> None:
        pass

    @handles("registration", "registration_accepted")
    def on_accepted(self, payload: dict[str, Any]) -> None:
        pass


def test_a_service_does_not_start_on_a_busy_classic_queue_and_its_other_queues_are_declared(
        container_factory, config):
    busy = "evt-registration-registration_withdrawn--twohandlers.on_withdrawn"
    other = "evt-registration-registration_accepted--twohandlers.on_accepted"
    with Connection(config["AMQP_URI"]) as conn:
        classic = conn.SimpleQueue(busy)
        classic.put({"event_id": "kept"})
        container = container_factory(TwoHandlers, config)
        with pytest.raises(IncompatibleQueue, match=busy):
            container.start()
        assert classic.get(timeout=2).payload == {"event_id": "kept"}
        classic.close()
        # the other handler's queue is there, and is the quorum queue its arguments describe
        conn.channel().queue_declare(other, passive=True)
        subscriber_queue("registration", "registration_accepted", other,
                         "twohandlers")(conn.channel()).declare()
        assert parking.parked_count(conn, "twohandlers") == 0
