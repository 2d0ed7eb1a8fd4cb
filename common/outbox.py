"""Transactional outbox and idempotent inbox.

A state change and the events it causes are committed in one transaction (`record_event`
adds an outbox row to the caller's session). The relay, running in every container of
the service, publishes unsent rows with publisher confirms and only then marks them sent:
a crash between commit and publish loses nothing, it only delays the event until a relay
runs again. Delivery is therefore at-least-once, and consumers dedupe by `event_id`
through their inbox table (`first_delivery`).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import eventlet
from eventlet.queue import Empty, LightQueue
from kombu import Connection
from nameko.amqp.publish import get_producer
from nameko.extensions import DependencyProvider
from sqlalchemy import BigInteger, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from common.db import JSONType, UTCDateTime, dialect_insert, is_postgres, utcnow
from common.events import event_exchange, subscriber_queues
from common.logs import current_request_id

log = logging.getLogger(__name__)

_ID = BigInteger().with_variant(Integer(), "sqlite")


class OutboxMixin:
    """`class OutboxEvent(OutboxMixin, Base): __tablename__ = "outbox"` in each service."""

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    event_type: Mapped[str] = mapped_column(String(80))
    payload: Mapped[dict] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)
    # The request that caused the event: published as the `nameko.request_id` header, so
    # the consumers' logs carry it.
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)


class InboxMixin:
    """`class InboxEvent(InboxMixin, Base): __tablename__ = "inbox"` in each consumer."""

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    handler: Mapped[str] = mapped_column(String(120), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


def record_event(session: Session, model: type, event: dict[str, Any]) -> None:
    session.add(model(event_id=event["event_id"], event_type=event["event_type"], payload=event,
                      request_id=current_request_id()))
    session.info["outbox_written"] = True


def first_delivery(session: Session, model: type, event_id: str, handler: str) -> bool:
    """True the first time (event, handler) is seen, claiming it in the caller's transaction.

    The claim is an insert that ignores conflicts: a concurrent delivery of the same event
    waits on the first one's row lock and then finds the event taken (or, if the first
    rolled back, takes it itself).
    """
    claim = dialect_insert(session)(model).values(event_id=event_id, handler=handler, processed_at=utcnow())
    return session.execute(claim.on_conflict_do_nothing()).rowcount == 1


def publish_pending(session: Session, model: type, amqp_uri: str, source: str, batch: int) -> int:
    query = select(model).where(model.sent_at.is_(None)).order_by(model.id).limit(batch)
    if is_postgres(session):
        # Several containers of one service relay in parallel without publishing a row twice.
        query = query.with_for_update(skip_locked=True)
    rows = session.scalars(query).all()
    if not rows:
        session.rollback()
        return 0
    exchange = event_exchange(source)
    with get_producer(amqp_uri, confirms=True) as producer:
        for row in rows:
            producer.publish(
                row.payload,
                exchange=exchange,
                routing_key=row.event_type,
                serializer="json",
                delivery_mode=2,
                message_id=row.event_id,
                headers={"event_type": row.event_type,
                         **({"nameko.request_id": row.request_id} if row.request_id else {})},
                declare=[exchange],
                retry=True,
                retry_policy={"max_retries": 3},
            )
            row.sent_at = utcnow()
    session.commit()
    return len(rows)


def declare_topology(amqp_uri: str, source: str) -> None:
    """The source's exchange and every known subscriber queue, bound."""
    with Connection(amqp_uri) as conn:
        channel = conn.default_channel
        event_exchange(source)(channel).declare()
        for queue in subscriber_queues(source):
            queue(channel).declare()


class OutboxRelay(DependencyProvider):
    """Publishes the service's outbox: woken after each commit that wrote events, and on a
    poll interval (which also covers rows left behind by a crashed process)."""

    def __init__(self, model: type) -> None:
        self.model = model
        self._wakeups: LightQueue | None = None
        self._running = False

    def setup(self) -> None:
        from common.db import Database

        self.database = next(
            dep for dep in self.container.dependencies if isinstance(dep, Database)
        )
        self.config = self.container.config
        self._wakeups = LightQueue(maxsize=1)
        self.database.on_outbox_commit(self.wake)

    def start(self) -> None:
        self._running = True
        self.container.spawn_managed_thread(self._run, identifier="outbox_relay")

    def stop(self) -> None:
        self._running = False
        self.wake()

    def wake(self) -> None:
        if self._wakeups is not None and self._wakeups.empty():
            try:
                self._wakeups.put_nowait(True)
            except Exception:  # noqa: S110 - a wake-up is already pending
                pass

    def _run(self) -> None:
        amqp_uri = self.config["AMQP_URI"]
        source = self.container.service_name
        poll = float(self.config.get("OUTBOX_POLL_SECONDS", 2.0))
        batch = int(self.config.get("OUTBOX_BATCH_SIZE", 200))
        declared = False
        while self._running:
            try:
                if not declared:
                    declare_topology(amqp_uri, source)
                    declared = True
                while self._running:
                    with self.database.new_session() as session:
                        if publish_pending(session, self.model, amqp_uri, source, batch) < batch:
                            break
            except Exception:
                declared = False
                log.exception("outbox relay failed; retrying in %.1fs", poll)
                eventlet.sleep(poll)
                continue
            try:
                self._wakeups.get(timeout=poll)
            except Empty:
                pass

    def get_dependency(self, worker_ctx: Any) -> OutboxRelay:
        return self
