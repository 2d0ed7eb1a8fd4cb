"""Event contracts shared by every service.

Events are published to one topic exchange per source service (`<service>.events`, as
nameko names it) with the event type as routing key. Payloads always carry
`event_id`, `version`, `occurred_at`; changes to a payload are additive only. What an event
may carry (ids, states, versions, public profile fields; never personal data) is in
docs/events.md.

Every consumer is listed in SUBSCRIPTIONS. The outbox relay and `cxc migrate` declare
those queues before anything is published, because RabbitMQ drops a message sent to an
exchange that has no bound queue. A test checks that the list matches the handlers the
services really declare.

Subscriber queues are quorum queues with a delivery limit: an event that fails
DELIVERY_LIMIT times is dead-lettered to the consuming service's parking queue
(`<service>.parked`, see common.parking) instead of being spun on.
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import eventlet
from kombu import Exchange, Queue
from nameko.events import EventHandler
from nameko.extensions import SharedExtension

from common.rpc import QuickReconnectQueueConsumer

log = logging.getLogger(__name__)

PAYLOAD_VERSION = 1

# Part of every subscriber queue's arguments: changing it means deleting and redeclaring
# the queues (RabbitMQ refuses a declaration whose arguments differ from the queue's).
DELIVERY_LIMIT = 10

# Internal: about accounts and sessions, for the notifications service and token verifiers,
# not for partnership back-offices (webhooks and the AsyncAPI document leave them out).
# They carry ids only, never an email address or a token.
ACCOUNT_EVENTS = (
    "email_verification_requested",
    "password_reset_requested",
    "signup_attempted_for_existing_account",
    "account_invited",
    "password_changed",
    "session_revoked",
    "account_sessions_revoked",
)
INTERNAL_EVENTS = frozenset(ACCOUNT_EVENTS)
# What token verifiers follow (common.revocation); nobody is told about these.
SESSION_EVENTS = ("session_revoked", "account_sessions_revoked")

REGISTRATION_EVENTS = (
    "registration_submitted",
    "registration_accepted",
    "registration_rejected",
    "registration_changes_requested",
    "registration_updated",
    "registration_withdrawn",
    *ACCOUNT_EVENTS,
)

MATCHING_EVENTS = (
    "contact_requested",
    "contact_accepted",
    "contact_declined",
    "contact_expired",
    "message_posted",
)

AGREEMENTS_EVENTS = (
    "exchange_proposed",
    "exchange_confirmed",
    "exchange_submitted",
    "exchange_validated",
    "exchange_rejected",
    "commitment_signed",
    "commitment_fully_signed",
    "financial_agreement_signed",
    "exchange_started",
    "exchange_completed",
    "closing_report_submitted",
    "exchange_cancelled",
    "exchange_closed",
)

PAYMENTS_EVENTS = (
    "payout_approved",
    "payout_paid",
    "payout_failed",
)

EVENTS_BY_SOURCE: dict[str, tuple[str, ...]] = {
    "registration": REGISTRATION_EVENTS,
    "matching": MATCHING_EVENTS,
    "agreements": AGREEMENTS_EVENTS,
    "payments": PAYMENTS_EVENTS,
}


# The event type of a subscription to every event of its source: one queue bound with the
# topic pattern `#` instead of one queue per event type (notifications consumes everything).
ALL_EVENTS = "#"


@dataclass(frozen=True)
class Subscription:
    source: str
    event_type: str
    service: str
    method: str

    @property
    def queue_name(self) -> str:
        # nameko's SERVICE_POOL naming, so the handler consumes the queue declared here; a
        # subscription to ALL_EVENTS says `all` (a `#` in a queue name is awkward to type).
        event_type = "all" if self.event_type == ALL_EVENTS else self.event_type
        return f"evt-{self.source}-{event_type}--{self.service}.{self.method}"


SUBSCRIPTIONS: tuple[Subscription, ...] = (
    Subscription("registration", "registration_accepted", "matching", "handle_registration_accepted"),
    Subscription("registration", "registration_updated", "matching", "handle_registration_updated"),
    Subscription("registration", "registration_withdrawn", "matching", "handle_registration_withdrawn"),
    Subscription("matching", "contact_accepted", "registration", "handle_contact_accepted"),
    *(Subscription("agreements", event, "matching", f"handle_{event}") for event in (
        "exchange_proposed", "exchange_confirmed", "exchange_cancelled", "exchange_completed")),
    Subscription("payments", "payout_approved", "agreements", "handle_payout_approved"),
    Subscription("payments", "payout_paid", "agreements", "handle_payout_paid"),
    Subscription("payments", "payout_failed", "agreements", "handle_payout_failed"),
    Subscription("agreements", "financial_agreement_signed", "payments",
                 "handle_financial_agreement_signed"),
    Subscription("agreements", "exchange_cancelled", "payments", "handle_exchange_cancelled"),
    Subscription("agreements", "closing_report_submitted", "payments",
                 "handle_closing_report_submitted"),
    # One queue per source, bound with `#`: notifications tells people about every event.
    *(Subscription(source, ALL_EVENTS, "notifications", f"handle_{source}_event")
      for source in ("registration", "matching", "agreements", "payments")),
)


def event_exchange(source: str) -> Exchange:
    return Exchange(f"{source}.events", type="topic", durable=True, auto_delete=False)


def parking_exchange(service: str) -> Exchange:
    return Exchange(f"{service}.parking", type="fanout", durable=True, auto_delete=False)


def parking_queue_name(service: str) -> str:
    return f"{service}.parked"


def parking_queue(service: str) -> Queue:
    return Queue(parking_queue_name(service), exchange=parking_exchange(service), routing_key="",
                 durable=True, queue_arguments={"x-queue-type": "quorum"})


def subscriber_queue_arguments(service: str) -> dict[str, Any]:
    """The arguments of every subscriber queue of `service`, identical wherever it is declared
    (`declare_topology`, `cxc migrate`, the handler itself)."""
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": DELIVERY_LIMIT,
        "x-dead-letter-exchange": parking_exchange(service).name,
        # at-least-once: a parked event is only removed from its queue once the parking
        # queue confirmed it (needs reject-publish overflow).
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def subscriber_queue(source: str, event_type: str, queue_name: str, service: str) -> Queue:
    return Queue(queue_name, exchange=event_exchange(source), routing_key=event_type, durable=True,
                 queue_arguments=subscriber_queue_arguments(service))


def subscriber_queues(source: str, subscriptions: tuple[Subscription, ...] | None = None) -> list[Queue]:
    subs = SUBSCRIPTIONS if subscriptions is None else subscriptions
    return [subscriber_queue(s.source, s.event_type, s.queue_name, s.service)
            for s in subs if s.source == source]


def consuming_services(subscriptions: tuple[Subscription, ...] | None = None) -> list[str]:
    subs = SUBSCRIPTIONS if subscriptions is None else subscriptions
    return sorted({s.service for s in subs})


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


def retry_delay(attempt: int, base: float = 0.5, cap: float = 30.0) -> float:
    """Exponential back-off before an event goes back to its queue: base, 2·base, 4·base …
    at most cap seconds (EVENT_RETRY_BASE_SECONDS, EVENT_RETRY_CAP_SECONDS)."""
    return min(cap, base * (2 ** max(0, attempt - 1)))


class SubscriberQueues(SharedExtension):
    """Checks and declares every subscriber queue of a container, and its service's parking,
    on one connection when the first of its handlers sets up (each handler opened a
    connection of its own for its queue: a container's start waited on as many handshakes
    as it had handlers)."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = eventlet.semaphore.Semaphore()
        self._outcome: dict[str, Exception | None] | None = None

    def prepare(self, queue_name: str) -> None:
        """Raises IncompatibleQueue when that queue exists with other arguments and holds
        messages; any other failure is logged (consuming will tell)."""
        with self._lock:
            if self._outcome is None:
                self._outcome = self._prepare_all()
        failure = self._outcome.get(queue_name)
        if failure is not None:
            raise failure

    def _prepare_all(self) -> dict[str, Exception | None]:
        from common.outbox import prepare_subscriber_queues

        service = self.container.service_name
        # From each handler's binding, not its setup: the others may not have run theirs yet.
        queues = [handler.subscription_queue() for handler in self.container.entrypoints
                  if isinstance(handler, ReliableEventHandler)]
        try:
            return prepare_subscriber_queues(self.container.config["AMQP_URI"], queues, service)
        except Exception:
            log.exception("could not check the subscriber queues of %s; consuming will tell",
                          service)
            return {}


class ReliableEventHandler(EventHandler):
    """nameko's EventHandler on a quorum queue with a delivery limit and parking.

    A failed event is logged, handed back after a back-off that grows with its delivery
    count, and once it failed DELIVERY_LIMIT times RabbitMQ dead-letters it to the service's
    parking queue.
    """

    # Back within seconds of a broker restart, like the RPC consumers (kombu's default pause
    # between attempts grows to 30 s).
    queue_consumer = QuickReconnectQueueConsumer()
    subscriber_queues = SubscriberQueues()

    def __init__(self, source_service: str, event_type: str, **kwargs: Any) -> None:
        kwargs.setdefault("requeue_on_error", True)
        super().__init__(source_service, event_type, **kwargs)

    def setup(self) -> None:
        super().setup()
        self.queue = self.subscription_queue()
        self._stopping = eventlet.event.Event()
        config = self.container.config
        self._retry_base = float(config.get("EVENT_RETRY_BASE_SECONDS", 0.5))
        self._retry_cap = float(config.get("EVENT_RETRY_CAP_SECONDS", 30.0))
        # An old classic queue of the same name would make consuming fail forever.
        self.subscriber_queues.prepare(self.queue.name)

    def subscription_queue(self) -> Queue:
        service = self.container.service_name
        name = Subscription(self.source_service, self.event_type, service, self.method_name).queue_name
        return subscriber_queue(self.source_service, self.event_type, name, service)

    def handle_result(self, message: Any, worker_ctx: Any, result: Any = None,
                      exc_info: Any = None) -> Any:
        # The handler's own time ends here, before any back-off (common.health's metrics).
        worker_ctx.handler_finished_at = time.perf_counter()
        if exc_info is not None:
            # The worker's method already closed its database session (see `handles`), so
            # this pause holds no transaction or connection.
            attempt = int((message.headers or {}).get("x-delivery-count") or 0) + 1
            event_id = (worker_ctx.args[0] or {}).get("event_id") if worker_ctx.args else None
            handler = f"{self.container.service_name}.{self.method_name}"
            if attempt > DELIVERY_LIMIT:
                log.error("event %s parked after %d failed attempts of %s: %s", event_id, attempt,
                          handler, exc_info[1])
            else:
                delay = retry_delay(attempt, self._retry_base, self._retry_cap)
                log.warning("event %s failed in %s (attempt %d of %d): %s; back on the queue "
                            "in %.2fs", event_id, handler, attempt, DELIVERY_LIMIT + 1,
                            exc_info[1], delay)
                with eventlet.Timeout(delay, False):
                    self._stopping.wait()  # a stopping container does not wait out back-offs
        return super().handle_result(message, worker_ctx, result, exc_info)

    def stop(self) -> None:
        if not self._stopping.ready():
            self._stopping.send(True)
        super().stop()


def handles(source: str, event_type: str):
    """`@handles("registration", "registration_accepted")` on a handler method.

    A handler that raises puts the event back on its queue instead of dropping it, after a
    back-off and a log line, and after DELIVERY_LIMIT failures the event is parked. Before
    that pause the worker's database session is rolled back and closed, so no transaction
    stays open while it waits. The handler itself must be idempotent (see
    `common.outbox.first_delivery`).
    """

    def decorate(method):
        @functools.wraps(method)
        def handler(self, payload):
            try:
                return method(self, payload)
            except Exception:
                _close_worker_sessions(self)
                raise

        return ReliableEventHandler.decorator(source, event_type)(handler)

    return decorate


def _close_worker_sessions(service: Any) -> None:
    from common.db import WorkerSession

    for dependency in vars(service).values():
        if isinstance(dependency, WorkerSession):
            try:
                dependency.close()
            except Exception:
                log.exception("could not close a worker's session")


def jsonable(value: Any) -> Any:
    """Dates inside JSON columns and event payloads travel as ISO strings."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
