"""The durable email queue (table `email_messages`): at most one email per (event, recipient),
claimed, sent and marked by the email worker.

Sent twice, or lost? A row is claimed (`sending`, attempts + 1, a lease) and committed
before the SMTP conversation, and marked `sent` after the server accepted the message. A
process that dies between the server's acceptance and that mark leaves the row `sending`;
when its lease runs out another worker sends it again. So a message is never lost, and is
sent twice only in that window (milliseconds, and only on a crash), with the same
Message-ID, which lets mail systems recognise the copy. The alternative (never retrying an
expired lease) would lose every message claimed by a crashed process instead; we prefer a
rare, recognisable duplicate to a silent loss.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from common.db import dialect_insert, is_postgres
from services.notifications.mailer import Outcome, Outgoing, new_message_id
from services.notifications.models import EmailMessage
from services.notifications.rendering import Rendered

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"
_E = EmailMessage.__table__


def backoff(attempts: int, base: float, cap: float) -> float:
    """Seconds before attempt `attempts + 1`: base, 2·base, 4·base … at most cap."""
    return min(cap, base * (2 ** max(0, attempts - 1)))


def enqueue(session: Session, *, event: dict[str, Any], recipient: str, to_address: str,
            message: Rendered, sender: str, at: datetime, sensitive: bool = False) -> bool:
    """Queue one email; False when this (event, recipient) has one already. Tells the
    committing session to wake the email worker."""
    values = {"event_id": event["event_id"], "event_type": event["event_type"],
              "recipient": recipient[:300], "to_address": to_address, "subject": message.subject[:300],
              "text_body": message.text, "html_body": message.html, "sensitive": sensitive,
              "message_id": new_message_id(sender), "status": PENDING, "attempts": 0,
              "next_attempt_at": at, "lease_until": None, "last_error": None, "created_at": at,
              "sent_at": None}
    added = session.execute(dialect_insert(session)(EmailMessage).values(**values)
                            .on_conflict_do_nothing()).rowcount == 1
    if added:
        session.info["email_queued"] = True
    return added


def claim_due(session: Session, now: datetime, batch: int, lease_seconds: float) -> list[Outgoing]:
    """Up to `batch` due messages, claimed for this worker (committed). Several workers
    (processes) claim disjoint batches on PostgreSQL (SKIP LOCKED)."""
    due = or_(and_(_E.c.status == PENDING, _E.c.next_attempt_at <= now),
              and_(_E.c.status == SENDING, _E.c.lease_until < now))
    query = select(_E.c.id).where(due).order_by(_E.c.next_attempt_at, _E.c.id).limit(batch)
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    ids = list(session.scalars(query))
    if not ids:
        session.rollback()
        return []
    session.execute(update(_E).where(_E.c.id.in_(ids)).values(
        status=SENDING, attempts=_E.c.attempts + 1,
        lease_until=now + timedelta(seconds=lease_seconds)))
    rows = session.execute(select(_E.c.id, _E.c.to_address, _E.c.subject, _E.c.text_body,
                                  _E.c.html_body, _E.c.message_id, _E.c.attempts)
                           .where(_E.c.id.in_(ids)).order_by(_E.c.id)).all()
    session.commit()
    return [Outgoing(row.id, row.to_address, row.subject, row.text_body, row.html_body,
                     row.message_id, row.attempts) for row in rows]


def record(session: Session, claimed: list[Outgoing], outcomes: dict[int, Outcome], now: datetime,
           max_attempts: int, base: float, cap: float) -> None:
    """What became of each claimed message: sent, back to pending after a back-off, or failed
    (a permanent refusal, or the last attempt)."""
    query = select(EmailMessage).where(EmailMessage.id.in_([item.id for item in claimed]))
    if is_postgres(session):
        query = query.with_for_update()
    rows = {row.id: row for row in session.scalars(query)}  # one round trip for the batch
    for item in claimed:
        outcome = outcomes.get(item.id) or Outcome(False, "no outcome")
        row = rows.get(item.id)
        if row is None or row.status != SENDING or row.attempts != item.attempt:
            continue  # another worker took it over after our lease ran out
        row.lease_until = None
        if outcome.sent:
            row.status, row.sent_at, row.last_error = SENT, now, None
            if row.sensitive:  # a one-time token has no business staying in our database
                row.text_body = row.html_body = ""
        elif outcome.permanent or row.attempts >= max_attempts:
            row.status, row.last_error = FAILED, outcome.error
        else:
            row.status, row.last_error = PENDING, outcome.error
            row.next_attempt_at = now + timedelta(seconds=backoff(row.attempts, base, cap))
    session.commit()
