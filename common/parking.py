"""Parked events: list them, count them, put them back on their queue.

An event whose handler failed DELIVERY_LIMIT times is dead-lettered by RabbitMQ to the
consuming service's parking queue (`<service>.parked`, see common.events). The x-death
header RabbitMQ adds says which queue it came from, why and when.

Listing takes the messages without acknowledging them and closes the channel, so every one
goes back to the parking queue. Replaying publishes a copy (with publisher confirms) to the
original queue through the default exchange, and only then acknowledges the parked one:
a crash in between leaves the event in both places, which idempotent handlers absorb.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from amqp.exceptions import NotFound as QueueNotFound
from kombu import Connection

from common.events import parking_exchange, parking_queue, parking_queue_name

# Headers RabbitMQ sets on delivery; a replayed event starts its count afresh.
_BROKER_HEADERS = ("x-delivery-count",)


@dataclass(frozen=True)
class ParkedEvent:
    service: str
    event_id: str | None
    event_type: str | None
    queue: str | None
    reason: str | None
    parked_at: datetime | None
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {"service": self.service, "event_id": self.event_id, "event_type": self.event_type,
                "queue": self.queue, "reason": self.reason,
                "parked_at": self.parked_at.isoformat() if self.parked_at else None,
                "count": self.count}


def _describe(service: str, message: Any) -> ParkedEvent:
    headers = message.headers or {}
    deaths = headers.get("x-death") or [{}]
    death = deaths[0]
    payload = message.payload if isinstance(message.payload, dict) else {}
    parked_at = death.get("time")
    return ParkedEvent(
        service=service,
        event_id=payload.get("event_id") or message.properties.get("message_id"),
        event_type=payload.get("event_type") or headers.get("event_type"),
        queue=death.get("queue"), reason=death.get("reason"),
        parked_at=parked_at if isinstance(parked_at, datetime) else None,
        count=int(death.get("count") or 0))


def _drain(channel: Any, queue: str, limit: int) -> list[Any]:
    """Up to `limit` messages, unacknowledged (they return when the channel closes)."""
    messages = []
    while len(messages) < limit:
        message = channel.basic_get(queue, no_ack=False)
        if message is None:
            break
        messages.append(channel.message_to_python(message))
    return messages


def declare_parking(conn: Connection, service: str) -> None:
    channel = conn.default_channel
    parking_exchange(service)(channel).declare()
    parking_queue(service)(channel).declare()


def parked_count(conn: Connection, service: str) -> int | None:
    """Messages waiting in the service's parking queue (a passive declare: cheap); None when
    the queue does not exist yet."""
    channel = conn.channel()
    try:
        _name, messages, _consumers = channel.queue_declare(parking_queue_name(service),
                                                            passive=True)
        return int(messages)
    except QueueNotFound:
        return None
    finally:
        try:
            channel.close()
        except Exception:  # noqa: S110 - the broker closed it already (404)
            pass


def list_parked(amqp_uri: str, services: Iterable[str], limit: int = 1000) -> list[ParkedEvent]:
    found: list[ParkedEvent] = []
    with Connection(amqp_uri) as conn:
        for service in services:
            declare_parking(conn, service)
            channel = conn.channel()
            try:
                found.extend(_describe(service, m) for m in _drain(channel, parking_queue_name(service),
                                                                   limit))
            finally:
                channel.close()  # every message taken goes back to the parking queue
    return found


def replay(amqp_uri: str, services: Iterable[str], event_ids: Iterable[str] | None = None,
           limit: int = 1000) -> list[ParkedEvent]:
    """Put parked events back on the queue they came from (all of them when `event_ids`
    is None) and remove them from parking. Returns what was replayed."""
    wanted = None if event_ids is None else set(event_ids)
    replayed: list[ParkedEvent] = []
    checked: set[str] = set()
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        for service in services:
            declare_parking(conn, service)
            channel = conn.channel()
            producer = conn.Producer(channel=conn.channel())
            try:
                for message in _drain(channel, parking_queue_name(service), limit):
                    parked = _describe(service, message)
                    if not parked.queue or (wanted is not None and parked.event_id not in wanted):
                        continue
                    if parked.queue not in checked:
                        # The default exchange drops a message for a queue that is gone.
                        conn.default_channel.queue_declare(parked.queue, passive=True)
                        checked.add(parked.queue)
                    headers = {k: v for k, v in (message.headers or {}).items()
                               if k not in _BROKER_HEADERS}
                    producer.publish(message.body, exchange="", routing_key=parked.queue,
                                     content_type=message.content_type,
                                     content_encoding=message.content_encoding,
                                     headers=headers, delivery_mode=2,
                                     message_id=message.properties.get("message_id"))
                    message.ack()
                    replayed.append(parked)
            finally:
                channel.close()
    return replayed
