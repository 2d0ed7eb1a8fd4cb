"""SQLAlchemy 2 for nameko: an engine per container, a session per worker.

The session is opened lazily on first use and always closed when the worker ends, so a
worker that raises leaves nothing half-written. Committing a session that wrote outbox
rows wakes the container's outbox relay (see `common.outbox`), and on PostgreSQL sends a
NOTIFY that wakes the relays of the service's other processes.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from weakref import WeakKeyDictionary

import eventlet
from nameko.extensions import DependencyProvider
from sqlalchemy import JSON, DateTime, String, create_engine, event, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator):
    """Timezone-aware datetimes on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime")
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


UUID_STR = String(36)
# PostgreSQL NOTIFY channel: a commit that wrote outbox rows wakes the relays of its database.
OUTBOX_CHANNEL = "cxc_outbox"
JSONType = JSON().with_variant(JSONB(), "postgresql")


log = logging.getLogger(__name__)


def normalise_url(url: str) -> str:
    """psycopg2 is the PostgreSQL driver here (SQLAlchemy 2.1 would pick psycopg 3)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url


def make_engine(url: str, pool_size: int = 10) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        # One connection, handed from green thread to green thread: SQLite's own busy
        # wait would block the whole eventlet hub if two green threads wrote at once.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    # No pre-ping: it costs a round trip per checkout; a connection that dropped is
    # invalidated by SQLAlchemy on its first error and replaced.
    # Up to 2 x pool_size connections, all kept once opened: as "overflow" beyond a pool of
    # pool_size, each one was opened and closed again per checkout whenever more workers
    # than that wrote at once (a PostgreSQL backend forked per request).
    return create_engine(
        url,
        pool_size=2 * pool_size,
        max_overflow=0,
        pool_recycle=1800,
    )


def dialect_name(bind: Session | Connection | Engine) -> str:
    return (bind.get_bind() if isinstance(bind, Session) else bind).dialect.name


def is_postgres(bind: Session | Connection | Engine) -> bool:
    return dialect_name(bind) == "postgresql"


def dialect_insert(bind: Session | Connection) -> Any:
    """The INSERT construct with ON CONFLICT support for the bind's database."""
    if is_postgres(bind):
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


class WorkerSession:
    """What a worker sees as `self.db`: lazily opened sessions.

    `session` is an ORM session for changes. `reader` is a plain connection for entrypoints
    that only read, with Core queries: on PostgreSQL it runs in autocommit, one round trip
    per query instead of BEGIN/query/ROLLBACK, and skips the ORM's bookkeeping. (On SQLite
    both share the single connection: use one or the other within a worker, not both.)
    """

    def __init__(self, factory: sessionmaker, read_engine: Engine,
                 autocommit: bool = False) -> None:
        self._factory = factory
        self._read_engine = read_engine
        self._autocommit = autocommit
        self._session: Session | None = None
        self._reader: Connection | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            self._session = self._factory()
        return self._session

    @property
    def reader(self) -> Connection:
        if self._reader is None:
            self._reader = self._read_engine.connect()
        return self._reader

    @property
    def autocommit(self) -> Connection | None:
        """The reader's connection when it runs in autocommit (PostgreSQL), else None: also
        for a write that is a single statement, atomic by itself, which then costs one
        round trip instead of BEGIN, the statement and COMMIT. Nothing that needs a
        transaction (an outbox row, an idempotency key) belongs on it."""
        return self.reader if self._autocommit else None

    def close(self) -> None:
        for opened in (self._session, self._reader):
            if opened is not None:
                opened.close()
        self._session = self._reader = None


def close_connections_left(engines: list[Engine], within: float = 10.0) -> None:
    """nameko stops or kills a container's dependencies before its background threads (the
    outbox relay, the catalogue's refresher, ...), so such a thread may still take a
    connection from an engine just disposed, or give one back to it, and that connection
    would stay open until the garbage collector found it. Dispose again, for a while, until
    no connection is out."""
    deadline = time.monotonic() + within
    pools: list[Any] = []
    while True:
        for engine in engines:
            pools.append(engine.pool)
            engine.dispose()
        for pool in pools:
            pool.dispose()
        if time.monotonic() > deadline or not any(getattr(pool, "checkedout", int)()
                                                  for pool in pools):
            return
        eventlet.sleep(0.1)


class Database(DependencyProvider):
    """`db = Database()` on a nameko service; the URL comes from DATABASE_URLS[service]."""

    def __init__(self, service: str | None = None) -> None:
        self.service = service
        self.engine: Engine | None = None
        self.sessionmaker: sessionmaker | None = None
        self._commit_listeners: list = []
        self._sessions: WeakKeyDictionary = WeakKeyDictionary()

    def setup(self) -> None:
        service = self.service or self.container.service_name
        config = self.container.config
        self.engine = make_engine(config["DATABASE_URLS"][service], config.get("DB_POOL_SIZE", 10))
        self.sessionmaker = sessionmaker(bind=self.engine, expire_on_commit=False)
        self.read_engine = self.engine
        if is_postgres(self.engine):
            # Its own pool of connections that stay in autocommit: switching a pooled
            # connection to autocommit and back on every checkout cost ~10 % of a read.
            # No overflow: at most DB_POOL_SIZE more connections than before.
            self.read_engine = create_engine(
                normalise_url(config["DATABASE_URLS"][service]),
                isolation_level="AUTOCOMMIT", pool_reset_on_return=None,
                pool_size=config.get("DB_POOL_SIZE", 10), max_overflow=0, pool_recycle=1800)

        if is_postgres(self.engine):
            @event.listens_for(self.sessionmaker, "before_commit")
            def _notify_relays(session: Session) -> None:
                # Delivered when (and only if) the transaction commits.
                if session.info.get("outbox_written"):
                    session.execute(text(f"NOTIFY {OUTBOX_CHANNEL}"))

        @event.listens_for(self.sessionmaker, "after_commit")
        def _after_commit(session: Session) -> None:
            if session.info.pop("outbox_written", False):
                for listener in self._commit_listeners:
                    listener()

    def on_outbox_commit(self, listener: Any) -> None:
        self._commit_listeners.append(listener)

    def stop(self) -> None:
        if self.engine is None:
            return
        # A killed worker never reaches its teardown: give its connections back first.
        for worker_session in list(self._sessions.values()):
            try:
                worker_session.close()
            except Exception as exc:  # noqa: BLE001 - one broken connection must not stop the rest
                log.debug("closing a killed worker's session failed: %r", exc)
        self._sessions.clear()
        engines = [self.engine] if self.read_engine is self.engine else [self.engine, self.read_engine]
        for engine in engines:
            engine.dispose()
        eventlet.spawn(close_connections_left, engines)

    def kill(self) -> None:
        self.stop()

    def get_dependency(self, worker_ctx: Any) -> WorkerSession:
        worker_session = WorkerSession(self.sessionmaker, self.read_engine,
                                       autocommit=self.read_engine is not self.engine)
        self._sessions[worker_ctx] = worker_session
        return worker_session

    def worker_teardown(self, worker_ctx: Any) -> None:
        worker_session = self._sessions.pop(worker_ctx, None)
        if worker_session is not None:
            worker_session.close()

    def new_session(self) -> Session:
        """A session outside any worker (relay, timers that manage their own)."""
        return self.sessionmaker()


# Each service declares `class Base(DeclarativeBase): type_annotation_map = TYPE_MAP`,
# so that every service has a metadata of its own.
TYPE_MAP = {datetime: UTCDateTime(), dict: JSONType, list: JSONType}
