"""Notifications' own tables.

Others add their tables here or in a module of their own that imports `Base` (and is
imported by `services.notifications.models` at the bottom, so Alembic sees them).

Personal data (names, addresses, rendered messages) is kept only as long as it is needed:
an email's bodies are cleared once it is sent (see `email_queue`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.db import TYPE_MAP, UUID_STR, new_id, utcnow
from common.outbox import InboxMixin, OutboxMixin

_ID = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER keys only


class Base(DeclarativeBase):
    type_annotation_map = TYPE_MAP


class InboxEvent(InboxMixin, Base):
    """Events already handled, per handler (the idempotent inbox)."""

    __tablename__ = "inbox"


class OutboxEvent(OutboxMixin, Base):
    """Events notifications publishes (none yet; the relay also prunes the inbox)."""

    __tablename__ = "outbox"


class Notification(Base):
    """One entry of a person's in-app inbox; one per (event, person) at most."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("event_id", "account_id", name="uq_notifications_event_account"),
        # The inbox listing: a person's unread first, newest first.
        Index("ix_notifications_account_unread", "account_id", "read_at", "created_at"),
    )

    id: Mapped[str] = mapped_column(UUID_STR, primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(UUID_STR)
    event_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(80))  # the preference key (see domain.KINDS)
    role: Mapped[str] = mapped_column(String(40))  # why this person hears it (domain.ROLES)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500), nullable=True)
    subject_ref: Mapped[str | None] = mapped_column(String(60), nullable=True)  # CX-/CXC- reference
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(nullable=True)


class EmailMessage(Base):
    """The durable email queue: one row per (event, recipient), sent by the email worker.

    pending -> sending (claimed, attempts + 1, lease_until) -> sent | pending (retry, with
    next_attempt_at) | failed (after max attempts). A `sending` row whose lease expired was
    claimed by a process that died: it is taken up again (docs/notifications.md).
    """

    __tablename__ = "email_messages"
    __table_args__ = (
        UniqueConstraint("event_id", "recipient", name="uq_email_messages_event_recipient"),
        Index("ix_email_messages_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(80))
    # An account id, or `email:<address>` for someone without an account.
    recipient: Mapped[str] = mapped_column(String(300))
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    # Account emails carry a secret token: their bodies are cleared once sent.
    sensitive: Mapped[bool] = mapped_column(default=False)
    message_id: Mapped[str] = mapped_column(String(200))  # the Message-ID header, fixed per row
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Preference(Base):
    """Which non-essential kinds a person also wants by email, and the language of messages."""

    __tablename__ = "notification_preferences"

    account_id: Mapped[str] = mapped_column(UUID_STR, primary_key=True)
    email_kinds: Mapped[list] = mapped_column()
    language: Mapped[str] = mapped_column(String(8), default="en")
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __mapper_args__ = {"version_id_col": version}


# Tables kept in modules of their own (imported here so Alembic and create_all see them).
from services.notifications import support_models, webhook_models  # noqa: E402, F401
