"""Idempotency keys for RPCs that create something (Stripe's semantics).

A client that retries a POST with the same `Idempotency-Key` gets the first result again
instead of a second effect. The key is stored in the owning service's database, in the
same transaction as the effect, scoped by caller and operation, with a fingerprint of the
request and the response:

- a new key: the key row is claimed first (an insert that ignores conflicts), then the
  effect runs, then the response is written into the row and everything commits at once;
- the same key and the same request: the stored response, flagged as replayed;
- the same key and another request: 409 (idempotency-key-reused);
- the same key while the first request is still running: on PostgreSQL the claim waits for
  the first transaction (the unique key's row lock) and then replays its answer, or, if it
  failed and rolled back, runs the effect itself. Nothing is stored for a request that
  failed, so retrying after an error runs it again.

Keys are kept IDEMPOTENCY_TTL_HOURS (24 by default); an older key is free again, and the
`IdempotencyKeys` provider prunes expired rows every hour.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import eventlet
from nameko.exceptions import deserialize_to_instance
from nameko.extensions import DependencyProvider
from sqlalchemy import JSON, String, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from common.db import UTCDateTime, dialect_insert, utcnow
from common.errors import Conflict, ValidationFailed

log = logging.getLogger(__name__)

REPLAYED_FIELD = "_idempotent_replayed"  # set on a replayed result; the gateway pops it
ANONYMOUS = "anonymous"
PRUNE_EVERY_SECONDS = 3600
_KEY = re.compile(r"[\x20-\x7e]{1,255}")


def valid_key(raw: str) -> bool:
    return bool(_KEY.fullmatch(raw))


@deserialize_to_instance
class IdempotencyKeyReused(Conflict):
    title, type_slug = "Idempotency key reused", "idempotency-key-reused"


class IdempotencyKeyMixin:
    """`class IdempotencyKey(IdempotencyKeyMixin, Base): __tablename__ = "idempotency_keys"`."""

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    operation: Mapped[str] = mapped_column(String(80), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    # Plain JSON (not JSONB): a replay returns the first body byte for byte, keys in order.
    response: Mapped[dict | None] = mapped_column(JSON(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


def fingerprint(request: Any, secret_fields: tuple[str, ...] = ()) -> str:
    """sha256 of the request's canonical JSON. Secret fields (a password) are left out, so
    no fast hash of a secret is stored."""

    def scrub(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: scrub(v) for k, v in value.items() if k not in secret_fields}
        if isinstance(value, list | tuple):
            return [scrub(v) for v in value]
        return value

    canonical = json.dumps(scrub(request), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _claim(session: Session, model: type, where: dict[str, str], digest: str,
           cutoff: datetime) -> Any:
    """None when the key is ours now (in this transaction), else the stored row."""
    table = model.__table__
    insert = dialect_insert(session)(model).values(**where, fingerprint=digest, response=None,
                                                   created_at=utcnow())
    if session.execute(insert.on_conflict_do_nothing()).rowcount == 1:
        return None
    match = [table.c[name] == value for name, value in where.items()]
    # An expired key is free again; the condition makes two racing retries take it once.
    renewed = session.execute(update(table).where(*match, table.c.created_at < cutoff).values(
        fingerprint=digest, response=None, created_at=utcnow()))
    if renewed.rowcount == 1:
        return None
    return session.execute(select(table).where(*match)).first()


def idempotent(session: Session, model: type, key: str | None, scope: str, operation: str,
               request: Any, effect: Callable[[], dict[str, Any]], ttl_hours: float = 24,
               secret_fields: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run `effect` (which changes `session` and returns the response, without committing)
    at most once per (scope, operation, key), and commit."""
    if key is None:
        result = effect()
        session.commit()
        return result
    if not isinstance(key, str) or not valid_key(key):
        raise ValidationFailed("The idempotency key is not valid.", {
            "Idempotency-Key": ["Use 1 to 255 printable ASCII characters."]})
    digest = fingerprint(request, secret_fields)
    where = {"scope": scope, "operation": operation, "key": key}
    stored = _claim(session, model, where, digest, utcnow() - timedelta(hours=ttl_hours))
    if stored is not None:
        session.rollback()
        if stored.fingerprint != digest or stored.response is None:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was already used with a different request; "
                "use a new key for a new request.")
        return {**stored.response, REPLAYED_FIELD: True}
    result = effect()
    table = model.__table__
    session.execute(update(table).where(*[table.c[k] == v for k, v in where.items()])
                    .values(response=result))
    session.commit()
    return result


def prune(session: Session, model: type, ttl_hours: float) -> int:
    cutoff = utcnow() - timedelta(hours=ttl_hours)
    removed = session.execute(delete(model).where(model.created_at < cutoff)).rowcount
    session.commit()
    return removed


class IdempotencyKeys(DependencyProvider):
    """`idempotency = IdempotencyKeys(IdempotencyKey)` on a service: `self.idempotency.run(
    session, key, scope, operation, request, effect)` in its create RPCs, and expired keys
    pruned in the background."""

    def __init__(self, model: type) -> None:
        self.model = model
        self._running = False

    def setup(self) -> None:
        from common.db import Database

        self.database = next(dep for dep in self.container.dependencies
                             if isinstance(dep, Database))
        self.ttl_hours = float(self.container.config.get("IDEMPOTENCY_TTL_HOURS", 24))

    def start(self) -> None:
        self._running = True
        self._thread = self.container.spawn_managed_thread(self._prune_forever,
                                                           identifier="idempotency_prune")

    def stop(self) -> None:
        self._running = False
        # It sleeps an hour between runs: end it now rather than have nameko kill it (and
        # warn about it) after the other extensions stopped.
        thread = getattr(self, "_thread", None)
        if thread is not None:
            thread.kill()

    def kill(self) -> None:
        # As common.outbox.OutboxRelay.kill.
        self.stop()

    def _prune_forever(self) -> None:
        while self._running:
            eventlet.sleep(PRUNE_EVERY_SECONDS)
            if not self._running:
                break
            try:
                with self.database.new_session() as session:
                    removed = prune(session, self.model, self.ttl_hours)
                if removed:
                    log.info("pruned %d expired idempotency keys", removed)
            except Exception:
                log.exception("pruning idempotency keys failed; trying again later")

    def run(self, session: Session, key: str | None, scope: str, operation: str, request: Any,
            effect: Callable[[], dict[str, Any]],
            secret_fields: tuple[str, ...] = ()) -> dict[str, Any]:
        return idempotent(session, self.model, key, scope, operation, request, effect,
                          self.ttl_hours, secret_fields)

    def get_dependency(self, worker_ctx: Any) -> IdempotencyKeys:
        return self
