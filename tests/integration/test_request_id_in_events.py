"""The request id of the transaction that wrote an event travels with the event, and the
consuming worker logs it."""

from __future__ import annotations

import logging

from kombu import Connection, Queue
from nameko.standalone.rpc import ClusterRpcProxy

from common.events import event_exchange
from tests.helpers import profile_event
from tests.integration.test_matching_service import accept, as_account, listed, new_id, wait_for

__all__ = ["as_account"]


def test_an_event_carries_the_request_id_of_its_transaction(config, as_account, tokens):
    visitor_id, visitor_account = accept(config, "PT", ["visitor"])
    host_id, _ = accept(config, "DE", ["host"])
    wait_for(lambda: listed(as_account(visitor_account), host_id))
    with Connection(config["AMQP_URI"]) as conn:
        queue = Queue(f"test-{new_id()}", exchange=event_exchange("matching"),
                      routing_key="contact_requested", exclusive=True)
        queue(conn.default_channel).declare()
        token, _ = tokens.issue(visitor_account, ["participant"], None, None)
        with ClusterRpcProxy(config, context_data={"auth_token": token,
                                                    "request_id": "req-contact-7"}) as rpc:
            rpc.matching.create_contact({"registration_id": host_id, "message": "Hello"})
        message = wait_for(lambda: queue(conn.default_channel).get(no_ack=True))
    assert message.headers["nameko.request_id"] == "req-contact-7"
    assert message.payload["requester_registration_id"] == visitor_id


def test_the_consuming_worker_logs_the_events_request_id(config, matching_container, caplog):
    caplog.set_level(logging.DEBUG, logger="nameko.containers")
    event = profile_event("registration_accepted", new_id(), new_id(), "PT", ["visitor"])
    with Connection(config["AMQP_URI"]) as conn:
        conn.Producer().publish(event, exchange=event_exchange("registration"),
                                routing_key=event["event_type"], serializer="json",
                                headers={"nameko.request_id": "req-from-registration"})

    def handled() -> list[logging.LogRecord]:
        return [r for r in caplog.records if getattr(r, "request_id", None) == "req-from-registration"
                and "handle_registration_accepted" in r.getMessage()]

    records = wait_for(handled)
    assert {r.service for r in records} == {"matching"}
