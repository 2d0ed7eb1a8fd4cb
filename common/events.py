"""Event contracts shared by every service.

Events are published to one topic exchange per source service (`<service>.events`, as
nameko names it) with the event type as routing key. Payloads always carry
`event_id`, `version`, `occurred_at`; changes to a payload are additive only.

Every consumer is listed in SUBSCRIPTIONS. The outbox relay and `cxc migrate` declare
those queues before anything is published, because RabbitMQ drops a message sent to an
exchange that has no bound queue. A test checks that the list matches the handlers the
services really declare.
"""

from __future__ import annotations

import functools
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import eventlet
from kombu import Exchange, Queue
from nameko.events import event_handler

log = logging.getLogger(__name__)

PAYLOAD_VERSION = 1

REGISTRATION_EVENTS = (
    "registration_submitted",
    "registration_accepted",
    "registration_rejected",
    "registration_changes_requested",
    "registration_updated",
    "registration_withdrawn",
)

MATCHING_EVENTS = (
    "contact_requested",
    "contact_accepted",
    "contact_declined",
    "contact_expired",
    "message_posted",
)

EVENTS_BY_SOURCE: dict[str, tuple[str, ...]] = {
    "registration": REGISTRATION_EVENTS,
    "matching": MATCHING_EVENTS,
}


@dataclass(frozen=True)
class Subscription:
    source: str
    event_type: str
    service: str
    method: str

    @property
    def queue_name(self) -> str:
        # nameko's SERVICE_POOL naming, so the handler consumes the queue declared here.
        return f"evt-{self.source}-{self.event_type}--{self.service}.{self.method}"


SUBSCRIPTIONS: tuple[Subscription, ...] = (
    Subscription("registration", "registration_accepted", "matching", "handle_registration_accepted"),
    Subscription("registration", "registration_updated", "matching", "handle_registration_updated"),
    Subscription("registration", "registration_withdrawn", "matching", "handle_registration_withdrawn"),
)


def event_exchange(source: str) -> Exchange:
    return Exchange(f"{source}.events", type="topic", durable=True, auto_delete=False)


def subscriber_queues(source: str, subscriptions: tuple[Subscription, ...] | None = None) -> list[Queue]:
    subs = SUBSCRIPTIONS if subscriptions is None else subscriptions
    exchange = event_exchange(source)
    return [
        Queue(s.queue_name, exchange=exchange, routing_key=s.event_type, durable=True)
        for s in subs
        if s.source == source
    ]


def make_event(event_type: str, data: dict[str, Any], actor_id: str | None = None) -> dict[str, Any]:
    known = {e for events in EVENTS_BY_SOURCE.values() for e in events}
    if event_type not in known:
        raise ValueError(f"unknown event type {event_type!r}: add it to common.events")
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "version": PAYLOAD_VERSION,
        "occurred_at": datetime.now(UTC).isoformat(),
        "actor_id": actor_id,
        **data,
    }


def handles(source: str, event_type: str, retry_delay: float = 1.0):
    """`@handles("registration", "registration_accepted")` on a handler method.

    A handler that raises puts the event back on its queue instead of dropping it, after a
    pause, so that an event that keeps failing is retried at a bounded rate (and logged each
    time) rather than spun on. The handler itself must be idempotent (see
    `common.outbox.first_delivery`).
    """

    def decorate(method):
        @functools.wraps(method)
        def handler(self, payload):
            try:
                return method(self, payload)
            except Exception:
                log.exception("%s failed on event %s; it goes back to the queue",
                              method.__name__, (payload or {}).get("event_id"))
                eventlet.sleep(retry_delay)
                raise

        return event_handler(source, event_type, requeue_on_error=True)(handler)

    return decorate


def jsonable(value: Any) -> Any:
    """Dates inside JSON columns and event payloads travel as ISO strings."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
