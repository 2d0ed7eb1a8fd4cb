"""The webhook delivery queue (table `webhook_deliveries`) and its worker.

A delivery is created in the transaction that handled the event (at most one per event and
endpoint: a unique constraint), then a green thread in every notifications process claims
due deliveries, POSTs them concurrently and records each attempt:

- claiming is safe with several processes: `FOR UPDATE SKIP LOCKED` on PostgreSQL; on
  SQLite one conditional UPDATE writes this worker's claim token, and only rows carrying it
  are sent;
- a delivery is `sending` for a lease; a process that dies mid-way leaves it to be taken up
  again when the lease ends (the receiver may then see the event twice: it deduplicates by
  the event id, as with AMQP);
- a failed attempt is retried after an exponential back-off with jitter (so many endpoints
  failing together do not come back together), and the delivery is `failed` after the last
  attempt; every attempt is kept with its status, duration and error (the delivery log).
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from eventlet.greenpool import GreenPool
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from common.db import dialect_insert, is_postgres, utcnow
from common.queue_worker import QueueWorker
from services.notifications import signing, webhook_http
from services.notifications.webhook_models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)

PENDING, SENDING, DELIVERED, FAILED = "pending", "sending", "delivered", "failed"
RETRY = "retry"
_D = WebhookDelivery.__table__
_E = WebhookEndpoint.__table__


def body_of(event: dict[str, Any]) -> str:
    """The exact bytes signed and sent: the event as compact JSON."""
    return json.dumps(event, separators=(",", ":"), sort_keys=True, default=str, ensure_ascii=False)


def backoff(attempts: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds before the next attempt: the exponential delay (base, 2·base, … at most cap),
    of which the second half is random ("equal jitter")."""
    delay = min(cap, base * (2 ** max(0, attempts - 1)))
    return delay / 2 + (rng or random).uniform(0, delay / 2)


def enqueue(session: Session, *, endpoint_id: str, event: dict[str, Any], at: datetime) -> bool:
    """One delivery of `event` to the endpoint; False when it has one already."""
    values = {"endpoint_id": endpoint_id, "event_id": str(event["event_id"]),
              "event_type": str(event["event_type"]), "body": body_of(event), "status": PENDING,
              "attempts": 0, "next_attempt_at": at, "created_at": at}
    added = session.execute(dialect_insert(session)(WebhookDelivery).values(**values)
                            .on_conflict_do_nothing()).rowcount == 1
    if added:
        session.info["webhook_queued"] = True
    return added


@dataclass(frozen=True)
class Claimed:
    id: int
    endpoint_id: str
    event_id: str
    event_type: str
    body: str
    attempt: int
    url: str
    sealed_secrets: tuple[str, ...]


def _due(now: datetime) -> Any:
    return or_(and_(_D.c.status == PENDING, _D.c.next_attempt_at <= now),
               and_(_D.c.status == SENDING, _D.c.lease_until < now))


def claim_due(session: Session, now: datetime, batch: int, lease_seconds: float) -> list[Claimed]:
    """Up to `batch` due deliveries of active endpoints, claimed for this worker (committed)."""
    token = str(uuid.uuid4())
    active = select(_E.c.id).where(_E.c.active.is_(True))
    candidates = (select(_D.c.id).where(_due(now), _D.c.endpoint_id.in_(active))
                  .order_by(_D.c.next_attempt_at, _D.c.id).limit(batch))
    claim = {"status": SENDING, "attempts": _D.c.attempts + 1, "claim_token": token,
             "lease_until": now + timedelta(seconds=lease_seconds)}
    if is_postgres(session):
        ids = list(session.scalars(candidates.with_for_update(of=_D, skip_locked=True)))
        if not ids:
            session.rollback()
            return []
        session.execute(update(_D).where(_D.c.id.in_(ids)).values(**claim))
    else:
        # One statement: SQLite holds the write lock for it, and the condition is re-checked.
        session.execute(update(_D).where(_D.c.id.in_(candidates.scalar_subquery()), _due(now))
                        .values(**claim).execution_options(synchronize_session=False))
    rows = session.execute(
        select(_D.c.id, _D.c.endpoint_id, _D.c.event_id, _D.c.event_type, _D.c.body, _D.c.attempts,
               _E.c.url, _E.c.sealed_secret, _E.c.previous_sealed_secret, _E.c.previous_secret_until)
        .join(_E, _E.c.id == _D.c.endpoint_id)
        .where(_D.c.claim_token == token, _D.c.status == SENDING).order_by(_D.c.id)).all()
    session.commit()
    claimed = []
    for row in rows:
        sealed = [row.sealed_secret]
        if row.previous_sealed_secret and row.previous_secret_until and row.previous_secret_until > now:
            sealed.append(row.previous_sealed_secret)
        claimed.append(Claimed(row.id, row.endpoint_id, row.event_id, row.event_type, row.body,
                               row.attempts, row.url, tuple(sealed)))
    return claimed


def headers_for(item: Claimed, secrets: list[str], timestamp: int) -> dict[str, str]:
    return {
        signing.EVENT_ID_HEADER: item.event_id,
        signing.EVENT_TYPE_HEADER: item.event_type,
        signing.TIMESTAMP_HEADER: str(timestamp),
        signing.DELIVERY_HEADER: str(item.id),
        signing.ATTEMPT_HEADER: str(item.attempt),
        signing.SIGNATURE_HEADER: signing.signature_header(secrets, timestamp, item.body.encode()),
    }


def record(session: Session, item: Claimed, answer: webhook_http.Answer, started: datetime,
           now: datetime, settings: dict[str, Any]) -> str:
    """The attempt in the log, and what becomes of the delivery; the outcome (the caller
    commits, once for a whole batch)."""
    row = session.get(WebhookDelivery, item.id, with_for_update=is_postgres(session))
    if row is None or row.status != SENDING or row.attempts != item.attempt:
        return "superseded"  # our lease ran out and another worker took it over
    row.lease_until, row.claim_token = None, None
    row.last_status, row.last_error = answer.status, answer.error
    next_at = None
    if answer.ok:
        row.status, row.delivered_at, outcome = DELIVERED, now, DELIVERED
    elif row.attempts >= int(settings["max_attempts"]):
        row.status, outcome = FAILED, FAILED
    else:
        next_at = now + timedelta(seconds=backoff(row.attempts, float(settings["retry_base_seconds"]),
                                                  float(settings["retry_cap_seconds"])))
        row.status, row.next_attempt_at, outcome = PENDING, next_at, RETRY
    session.add(WebhookAttempt(delivery_id=item.id, attempt=item.attempt, started_at=started,
                               duration_ms=answer.duration_ms, response_status=answer.status,
                               error=answer.error, outcome=outcome, next_attempt_at=next_at))
    return outcome


class WebhookWorker(QueueWorker):
    """In every notifications process: sends due deliveries, woken by a commit that queued
    one and otherwise every WEBHOOKS_POLL_SECONDS (retries, expired leases)."""

    settings_key = "WEBHOOKS"
    commit_flag = "webhook_queued"
    default_poll_seconds = 2.0

    def setup(self) -> None:
        super().setup()
        self.box = signing.secret_box(self.settings)
        self._pool = GreenPool(max(1, int(self.settings.get("concurrency", 10))))

    def run_once(self) -> int:
        """Claim one batch, send it concurrently, record every attempt in one transaction;
        how many deliveries it held."""
        with self.database.new_session() as session:
            claimed = claim_due(session, utcnow(), int(self.settings.get("batch_size", 50)),
                                float(self.settings.get("lease_seconds", 60)))
        if not claimed:
            return 0
        # spawn, then wait: GreenPool.imap keeps far fewer requests in flight than the pool allows.
        sending = [self._pool.spawn(self._send, item) for item in claimed]
        sent = [thread.wait() for thread in sending]
        try:
            with self.database.new_session() as session:
                outcomes = [record(session, item, answer, started, utcnow(), self.settings)
                            for item, answer, started in sent]
                session.commit()
        except Exception:
            # Left `sending`: taken up again when the lease ends.
            log.exception("webhook deliveries %s: the outcomes could not be recorded",
                          [item.id for item in claimed])
            return len(claimed)
        for (item, answer, _started), outcome in zip(sent, outcomes, strict=True):
            if outcome != DELIVERED:
                log.warning("webhook delivery %s (event %s, attempt %d) %s: %s", item.id,
                            item.event_id, item.attempt, outcome, answer.error)
        return len(claimed)

    def _send(self, item: Claimed) -> tuple[Claimed, webhook_http.Answer, datetime]:
        settings = self.settings
        started = utcnow()
        try:
            secrets = [self.box.open(item.sealed_secrets[0])]
            for sealed in item.sealed_secrets[1:]:
                try:  # a retiring secret sealed with a key since removed: sign without it
                    secrets.append(self.box.open(sealed))
                except RuntimeError:
                    log.warning("webhook delivery %s: the previous secret cannot be opened", item.id)
            headers = headers_for(item, secrets, int(time.time()))
        except Exception as exc:  # a key that cannot open the secret: an operator must act
            log.error("webhook delivery %s cannot be signed: %s", item.id, exc)
            return item, webhook_http.Answer(None, 0, "cannot be signed: check WEBHOOKS_SECRET_KEYS"), started
        answer = webhook_http.post(
            item.url, item.body.encode(), headers,
            connect_timeout=float(settings["connect_timeout_seconds"]),
            read_timeout=float(settings["read_timeout_seconds"]),
            allow_insecure=bool(settings.get("allow_insecure")))
        return item, answer, started

