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
import time
from datetime import datetime, timedelta
from typing import Any

import eventlet
from amqp import Message
from amqp.exceptions import NotFound as QueueNotFound
from amqp.exceptions import PreconditionFailed
from eventlet.hubs import trampoline
from eventlet.queue import Empty, LightQueue
from kombu import Connection, Queue
from nameko.extensions import DependencyProvider
from sqlalchemy import BigInteger, Integer, String, Text, cast, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from common.db import OUTBOX_CHANNEL, JSONType, UTCDateTime, dialect_insert, is_postgres, utcnow
from common.events import SUBSCRIPTIONS, event_exchange, subscriber_queues
from common.logs import current_request_id
from common.parking import declare_parking

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
    # On the table, not the mapped class: the ORM's bulk-insert path costs more than the
    # statement on every event.
    claim = dialect_insert(session)(model.__table__).values(event_id=event_id, handler=handler,
                                                            processed_at=utcnow())
    return session.execute(claim.on_conflict_do_nothing()).rowcount == 1


def first_deliveries(session: Session, model: type, claims: list[tuple[str, str]]) -> set[str]:
    """`first_delivery` for many (event id, handler) pairs in one statement: the event ids
    claimed now (a pair claimed before, or twice in `claims`, is not)."""
    if not claims:
        return set()
    table = model.__table__
    now = utcnow()
    statement = (dialect_insert(session)(table)
                 .values([{"event_id": e, "handler": h, "processed_at": now} for e, h in claims])
                 .on_conflict_do_nothing().returning(table.c.event_id))
    return set(session.execute(statement).scalars())


class PublishIncomplete(RuntimeError):
    """The broker refused (nacked) an event of a batch, or did not confirm it in time."""


class BatchPublisher:
    """Publishes a batch of outbox rows on one confirm-mode channel, then waits once for the
    broker's confirms of the whole batch (instead of one round trip per event).

    The connection and channel outlive a batch; any error closes them and the next batch
    opens new ones. `publish` returns how many rows, from the first, were confirmed: a row
    the broker nacked (or that was not confirmed in time) ends the run, so a later row is
    never marked sent before an earlier one.
    """

    def __init__(self, amqp_uri: str, source: str, confirm_timeout: float = 10.0) -> None:
        self.amqp_uri = amqp_uri
        self.exchange = event_exchange(source)
        self.confirm_timeout = confirm_timeout
        self._connection: Connection | None = None
        self._channel: Any = None
        self._outstanding: set[int] = set()  # delivery tags published, not yet confirmed
        self._nacked: set[int] = set()
        self._next_tag = 1

    def _open(self) -> None:
        self._connection = Connection(self.amqp_uri, connect_timeout=5)
        self._channel = self._connection.channel()
        self._channel.confirm_select()
        self._channel.events["basic_ack"].add(self._on_ack)
        self._channel.events["basic_nack"].add(self._on_nack)
        self._outstanding, self._nacked, self._next_tag = set(), set(), 1
        self.exchange(self._channel).declare()

    def _settle(self, delivery_tag: int, multiple: bool) -> set[int]:
        settled = {tag for tag in self._outstanding if tag <= delivery_tag} if multiple else (
            {delivery_tag} & self._outstanding)
        self._outstanding -= settled
        return settled

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self._settle(delivery_tag, multiple)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._nacked |= self._settle(delivery_tag, multiple)

    def publish(self, rows: list[Any]) -> int:
        if not rows:
            return 0
        if self._channel is None:
            self._open()
        try:
            tags = []
            for row in rows:
                # The row's JSON text as it is (no decoding and encoding again), as kombu would
                # have sent it: a persistent JSON message named by its event id.
                self._channel.basic_publish(Message(
                    row.body.encode(), content_type="application/json", content_encoding="utf-8",
                    delivery_mode=2, message_id=row.event_id,
                    application_headers={"event_type": row.event_type, **(
                        {"nameko.request_id": row.request_id} if row.request_id else {})}),
                    exchange=self.exchange.name, routing_key=row.event_type)
                tags.append(self._next_tag)
                self._outstanding.add(self._next_tag)
                self._next_tag += 1
            deadline = time.monotonic() + self.confirm_timeout
            while self._outstanding and time.monotonic() < deadline:
                try:
                    self._connection.drain_events(timeout=max(deadline - time.monotonic(), 0.001))
                except TimeoutError:
                    break
            confirmed = 0
            for tag in tags:
                if tag in self._outstanding or tag in self._nacked:
                    break
                confirmed += 1
            if self._outstanding or self._nacked:
                # Start afresh: what the broker still owes would be misattributed later.
                self.close()
            return confirmed
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # noqa: S110 - a connection already gone is what we wanted
                pass


def publish_pending(session: Session, model: type, amqp_uri: str, source: str, batch: int,
                    publisher: BatchPublisher | None = None) -> int:
    """Publish up to `batch` unsent rows, in id order, and mark sent those the broker
    confirmed; PublishIncomplete when some were refused (the rest stay unsent)."""
    table = model.__table__
    query = (select(table.c.id, table.c.event_id, table.c.event_type,
                    cast(table.c.payload, Text).label("body"), table.c.request_id)
             .where(table.c.sent_at.is_(None)).order_by(table.c.id).limit(batch))
    if is_postgres(session):
        # Several containers of one service relay in parallel without publishing a row twice.
        query = query.with_for_update(skip_locked=True)
    rows = session.execute(query).all()
    if not rows:
        session.rollback()
        return 0
    own = publisher is None
    publisher = publisher or BatchPublisher(amqp_uri, source)
    try:
        confirmed = publisher.publish(rows)
    finally:
        if own:
            publisher.close()
    if confirmed:
        session.execute(update(table).where(table.c.id.in_([row.id for row in rows[:confirmed]]))
                        .values(sent_at=utcnow()))
    session.commit()
    if confirmed < len(rows):
        raise PublishIncomplete(f"the broker confirmed {confirmed} of {len(rows)} events; "
                                "the rest stay in the outbox")
    return confirmed


class IncompatibleQueue(RuntimeError):
    """A subscriber queue exists with other arguments and still holds messages."""


def prepare_queue(conn: Connection, queue: Queue, channel: Any = None) -> Any:
    """Declare `queue` (on `channel`, or a new one); an empty queue of the same name declared
    with other arguments (a classic queue of an older deployment) is deleted and declared
    anew. A non-empty one is left alone and reported: deleting it would lose events.
    Answers a channel still open, for the next declaration (RabbitMQ closes the channel of a
    refused one; opening one per queue cost a round trip each)."""
    channel = channel or conn.channel()
    try:
        queue(channel).declare()
        return channel
    except PreconditionFailed:
        pass  # RabbitMQ closed that channel; look at the queue on a fresh one
    channel = conn.channel()
    try:
        _name, messages, consumers = channel.queue_declare(queue.name, passive=True)
    except QueueNotFound:
        messages = consumers = 0
        channel = conn.channel()  # closed by the refusal too
    if messages or consumers:
        raise IncompatibleQueue(
            f"Queue {queue.name!r} exists with other arguments (an older, classic queue?) and "
            f"holds {messages} message(s) with {consumers} consumer(s). Stop its consumers, let "
            "them drain it (or move its messages elsewhere with the RabbitMQ shovel), delete "
            f"it (rabbitmqctl delete_queue {queue.name}), then run `cxc migrate` again.")
    channel.queue_delete(queue.name, if_unused=True, if_empty=True)
    log.warning("queue %s was redeclared as a quorum queue with a delivery limit", queue.name)
    queue(channel).declare()
    return channel


def prepare_subscriber_queues(amqp_uri: str, queues: list[Queue],
                              service: str) -> dict[str, IncompatibleQueue | None]:
    """A service's subscriber queues and its parking, as its handlers declare them at start,
    on one connection. Answers each queue's outcome: None, or the IncompatibleQueue that
    `prepare_queue` raised for it."""
    outcome: dict[str, IncompatibleQueue | None] = {}
    with Connection(amqp_uri) as conn:
        declare_parking(conn, service)
        channel = conn.default_channel
        for queue in queues:
            try:
                channel = prepare_queue(conn, queue, channel)
                outcome[queue.name] = None
            except IncompatibleQueue as exc:
                outcome[queue.name] = exc
                channel = None
    return outcome


def declare_topology(amqp_uri: str, source: str) -> None:
    """The source's exchange and every known subscriber queue, bound, with the consuming
    services' parking exchanges and queues."""
    with Connection(amqp_uri) as conn:
        event_exchange(source)(conn.default_channel).declare()
        for service in sorted({s.service for s in SUBSCRIPTIONS if s.source == source}):
            declare_parking(conn, service)
        channel = conn.default_channel
        for queue in subscriber_queues(source):
            channel = prepare_queue(conn, queue, channel)


def prune(session: Session, outbox: type | None, inbox: type | None, outbox_days: float,
          inbox_days: float, batch: int = 1000) -> int:
    """Delete sent outbox rows and inbox rows older than their retention, a batch per
    transaction so no long lock is held. Returns how many rows went."""
    removed = 0
    now = utcnow()
    targets = []
    if outbox is not None:
        targets.append((outbox, outbox.id, outbox.sent_at, now - timedelta(days=outbox_days)))
    if inbox is not None:
        targets.append((inbox, inbox.event_id, inbox.processed_at, now - timedelta(days=inbox_days)))
    for model, key, stamp, cutoff in targets:
        while True:
            ids = select(key).where(stamp.is_not(None), stamp < cutoff).limit(batch)
            gone = session.execute(delete(model).where(key.in_(ids.scalar_subquery()),
                                                       stamp < cutoff)).rowcount
            session.commit()
            removed += gone
            if gone < batch:
                break
    return removed


FIRST_PRUNE_SECONDS = 60.0


class OutboxRelay(DependencyProvider):
    """Publishes the service's outbox, a batch at a time. Woken after each commit of this
    process that wrote events; on PostgreSQL also by the NOTIFY such a commit sends
    (`common.db`), so a relay in another process of the service takes rows at once; and
    every OUTBOX_POLL_SECONDS, which also covers rows left behind by a crashed process.
    Every OUTBOX_PRUNE_SECONDS (the first time a minute after it starts, or one interval if
    that is shorter) it also deletes sent outbox rows and inbox rows past their retention
    (OUTBOX_RETENTION_DAYS, INBOX_RETENTION_DAYS)."""

    def __init__(self, model: type, inbox: type | None = None) -> None:
        self.model = model
        self.inbox = inbox
        self._wakeups: LightQueue | None = None
        self._running = False
        self._listener: Any = None

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
        if is_postgres(self.database.engine):
            self.container.spawn_managed_thread(self._listen, identifier="outbox_listener")

    def stop(self) -> None:
        self._running = False
        self.wake()
        if self._listener is not None:
            try:
                self._listener.close()
            except Exception:  # noqa: S110 - closing is all we wanted
                pass

    def kill(self) -> None:
        # nameko kills a container's dependencies before its threads, and a thread killed
        # inside a query may see an ordinary exception (psycopg2 wraps what the wait raised)
        # that its loop survives: without this it would go on, on a disposed engine.
        self.stop()

    def wake(self) -> None:
        if self._wakeups is not None and self._wakeups.empty():
            try:
                self._wakeups.put_nowait(True)
            except Exception:  # noqa: S110 - a wake-up is already pending
                pass

    def _listen(self) -> None:
        """LISTEN for commits of other processes of this service (PostgreSQL)."""
        poll = float(self.config.get("OUTBOX_POLL_SECONDS", 2.0))
        while self._running:
            try:
                engine = self.database.engine
                cargs, cparams = engine.dialect.create_connect_args(engine.url)
                self._listener = conn = engine.dialect.dbapi.connect(*cargs, **cparams)
                conn.autocommit = True
                with conn.cursor() as cursor:
                    cursor.execute(f"LISTEN {OUTBOX_CHANNEL}")
                self.wake()  # whatever was committed before we listened
                while self._running:
                    trampoline(conn.fileno(), read=True)
                    conn.poll()
                    if conn.notifies:
                        conn.notifies.clear()
                        self.wake()
            except Exception:
                if self._running:
                    log.warning("outbox listener lost its connection; polling until it is back")
                    eventlet.sleep(poll)
            finally:
                if self._listener is not None:
                    try:
                        self._listener.close()
                    except Exception:  # noqa: S110
                        pass
                    self._listener = None

    def _run(self) -> None:
        amqp_uri = self.config["AMQP_URI"]
        source = self.container.service_name
        poll = float(self.config.get("OUTBOX_POLL_SECONDS", 2.0))
        batch = int(self.config.get("OUTBOX_BATCH_SIZE", 200))
        publisher = BatchPublisher(amqp_uri, source)
        declared = False
        prune_interval = float(self.config.get("OUTBOX_PRUNE_SECONDS", 3600))
        # The first prune a minute after the start (sooner if the interval is shorter): not
        # every process of a deploy deleting at once while they all start.
        prune_due = time.monotonic() + min(prune_interval, FIRST_PRUNE_SECONDS)
        while self._running:
            try:
                if not declared:
                    declare_topology(amqp_uri, source)
                    declared = True
                prune_due = self._prune_if_due(prune_due, prune_interval)
                while self._running:
                    with self.database.new_session() as session:
                        if publish_pending(session, self.model, amqp_uri, source, batch,
                                           publisher) < batch:
                            break
            except Exception:
                declared = False
                publisher.close()
                log.exception("outbox relay failed; retrying in %.1fs", poll)
                eventlet.sleep(poll)
                continue
            try:
                self._wakeups.get(timeout=poll)
            except Empty:
                pass
        publisher.close()

    def _prune_if_due(self, due: float, interval: float) -> float:
        """Prunes once `due` has passed; answers when the next prune is due."""
        now = time.monotonic()
        if now < due:
            return due
        with self.database.new_session() as session:
            removed = prune(session, self.model, self.inbox,
                            float(self.config.get("OUTBOX_RETENTION_DAYS", 7)),
                            float(self.config.get("INBOX_RETENTION_DAYS", 7)))
        if removed:
            log.info("pruned %d outbox/inbox rows past their retention", removed)
        return now + interval

    def get_dependency(self, worker_ctx: Any) -> OutboxRelay:
        return self
