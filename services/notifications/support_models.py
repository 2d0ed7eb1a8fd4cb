"""Tables of the reminders, the support desk and the bilateral meetings (notifications' own).

Personal data lives only here and never in an event: an anonymous requester's address and
name, query and reply texts. A requester's access tokens are kept as SHA-256 hashes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from common.db import UUID_STR, new_id, utcnow
from common.idempotency import IdempotencyKeyMixin
from services.notifications.models import Base


class PendingStep(Base):
    """A step someone must take (assess, validate, sign, report, review, pay, answer), built
    from the events notifications consumes; cleared by the event that completes it.

    A row stays once cleared (a tombstone), so an event that arrives late, older than the
    one that cleared the step, does not open it again (`changed_at` orders them).
    """

    __tablename__ = "pending_steps"
    __table_args__ = (Index("ix_pending_steps_next", "cleared_at", "next_at"),)

    step_key: Mapped[str] = mapped_column(String(120), primary_key=True)  # <kind>:<subject id>
    kind: Mapped[str] = mapped_column(String(40))
    # Who is reminded: [role, selector, field] rules over `subject` (domain.Rule).
    rules: Mapped[list] = mapped_column()
    subject: Mapped[dict] = mapped_column()  # ids and the reference, from the event
    # Parties that already did their part, as [content version, party] (signatures), kept
    # whichever of the opening and the signing events is handled first.
    done: Mapped[list] = mapped_column(default=list)
    since: Mapped[datetime] = mapped_column()
    due_at: Mapped[datetime] = mapped_column()
    next_at: Mapped[datetime | None] = mapped_column(nullable=True)  # None: nothing more to send
    round: Mapped[int] = mapped_column(Integer, default=1)  # a step opened again counts anew
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    changed_at: Mapped[datetime] = mapped_column()  # occurred_at of the last event applied
    cleared_at: Mapped[datetime | None] = mapped_column(nullable=True)


class StepReminder(Base):
    """One reminder sent: at most one per step, round and interval number."""

    __tablename__ = "step_reminders"
    __table_args__ = (UniqueConstraint("step_key", "round", "n", name="uq_step_reminders_step_round_n"),)

    id: Mapped[str] = mapped_column(UUID_STR, primary_key=True, default=new_id)
    step_key: Mapped[str] = mapped_column(String(120))
    round: Mapped[int] = mapped_column(Integer)
    n: Mapped[int] = mapped_column(Integer)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)


class SupportQuery(Base):
    """A question to the support office, from a signed-in participant or anyone with an email.

    open (waiting for support) -> answered (waiting for the requester) -> closed; a reply
    from the requester opens it again.
    """

    __tablename__ = "support_queries"
    __table_args__ = (Index("ix_support_queries_status_updated", "status", "updated_at"),
                      Index("ix_support_queries_account", "requester_account_id"))

    id: Mapped[str] = mapped_column(UUID_STR, primary_key=True, default=new_id)
    reference: Mapped[str] = mapped_column(String(20), unique=True)  # SUP-YYYY-NNNNNN
    requester_account_id: Mapped[str | None] = mapped_column(UUID_STR, nullable=True)
    requester_email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    requester_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    participant_status: Mapped[str] = mapped_column(String(20))  # interested | registered
    subject: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    exchange_reference: Mapped[str | None] = mapped_column(String(20), nullable=True)
    browser_brand: Mapped[str | None] = mapped_column(String(60), nullable=True)
    browser_version: Mapped[str | None] = mapped_column(String(40), nullable=True)
    screenshot_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    screenshot_type: Mapped[str | None] = mapped_column(String(40), nullable=True)
    screenshot_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    screenshot_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class SupportMessage(Base):
    """The conversation of a query after its first text: answers and replies."""

    __tablename__ = "support_messages"
    __table_args__ = (Index("ix_support_messages_query", "query_id", "created_at"),)

    id: Mapped[str] = mapped_column(UUID_STR, primary_key=True, default=new_id)
    query_id: Mapped[str] = mapped_column(UUID_STR)
    author: Mapped[str] = mapped_column(String(20))  # requester | support
    author_account_id: Mapped[str | None] = mapped_column(UUID_STR, nullable=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SupportAccessToken(Base):
    """A link's token letting an anonymous requester read and reply to one query, nothing else."""

    __tablename__ = "support_access_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    query_id: Mapped[str] = mapped_column(UUID_STR, index=True)
    expires_at: Mapped[datetime] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Meeting(Base):
    """A bilateral meeting with the support office in one 30-minute slot.

    At most one *booked* meeting per slot start: a partial unique index, so two people
    booking the same slot at once cannot both succeed (the second insert fails).
    """

    __tablename__ = "support_meetings"
    __table_args__ = (
        Index("uq_support_meetings_booked_slot", "slot_start", unique=True,
              postgresql_where=text("status = 'booked'"), sqlite_where=text("status = 'booked'")),
        Index("ix_support_meetings_account", "account_id", "slot_start"),
    )

    id: Mapped[str] = mapped_column(UUID_STR, primary_key=True, default=new_id)
    slot_start: Mapped[datetime] = mapped_column()
    slot_end: Mapped[datetime] = mapped_column()
    account_id: Mapped[str] = mapped_column(UUID_STR)
    query_id: Mapped[str | None] = mapped_column(UUID_STR, nullable=True)
    exchange_reference: Mapped[str | None] = mapped_column(String(20), nullable=True)
    topic: Mapped[str | None] = mapped_column(String(300), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="booked")  # booked | cancelled
    cancelled_by: Mapped[str | None] = mapped_column(String(20), nullable=True)  # participant | support
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(nullable=True)


class IdempotencyKey(IdempotencyKeyMixin, Base):
    """Idempotency-Key records of the POSTs that create a query, a reply or a meeting."""

    __tablename__ = "idempotency_keys"
