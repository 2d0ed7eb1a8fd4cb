"""Matching's own tables: the catalogue read model, contact requests and their messages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.db import TYPE_MAP, UUID_STR, new_id, utcnow
from common.idempotency import IdempotencyKeyMixin
from common.outbox import InboxMixin, OutboxMixin

_SEQ = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map = TYPE_MAP


class CatalogueEntry(Base):
    """One accepted registration as registration's events describe it. Built only from
    those events (or a replay over RPC), never from registration's tables."""

    __tablename__ = "catalogue"

    registration_id: Mapped[str] = mapped_column(UUID_STR, primary_key=True)
    account_id: Mapped[str] = mapped_column(UUID_STR, index=True)
    partnership_id: Mapped[str] = mapped_column(UUID_STR)
    registration_version: Mapped[int] = mapped_column(Integer)
    listed: Mapped[bool] = mapped_column(Boolean, default=True)
    profile: Mapped[dict] = mapped_column()
    has_visited: Mapped[bool] = mapped_column(Boolean, default=False)
    host_capacity: Mapped[int] = mapped_column(Integer, default=1)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The catalogue_changes counter value of the row's last write: in commit order, so an
    # index refresh reads `change_seq > watermark` and misses nothing (see catalogue.py).
    change_seq: Mapped[int] = mapped_column(_SEQ, default=0, index=True)


class CatalogueChanges(Base):
    """One row: the catalogue's change counter. Every catalogue write bumps it in its own
    transaction; the row lock orders writers, so counter order is commit order."""

    __tablename__ = "catalogue_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(_SEQ, default=0)


class ContactRequest(Base):
    __tablename__ = "contact_requests"
    __table_args__ = (
        Index("ix_contacts_requester_status", "requester_registration_id", "status"),
        Index("ix_contacts_recipient_status", "recipient_registration_id", "status"),
        Index("ix_contacts_status_expires", "status", "expires_at"),
    )

    id: Mapped[str] = mapped_column(UUID_STR, primary_key=True, default=new_id)
    version: Mapped[int] = mapped_column(Integer, default=1)
    requester_registration_id: Mapped[str] = mapped_column(UUID_STR)
    requester_account_id: Mapped[str] = mapped_column(UUID_STR, index=True)
    recipient_registration_id: Mapped[str] = mapped_column(UUID_STR)
    recipient_account_id: Mapped[str] = mapped_column(UUID_STR, index=True)
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="open")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    responded_at: Mapped[datetime | None] = mapped_column(nullable=True)

    __mapper_args__ = {"version_id_col": version}


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(UUID_STR, primary_key=True, default=new_id)
    contact_id: Mapped[str] = mapped_column(ForeignKey("contact_requests.id"), index=True)
    author_account_id: Mapped[str] = mapped_column(UUID_STR)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExchangeLink(Base):
    """Who visits and who hosts in each exchange, from agreements' events (applied in
    exchange_version order): the catalogue's visits and open hosting capacity follow it."""

    __tablename__ = "exchange_links"

    exchange_id: Mapped[str] = mapped_column(UUID_STR, primary_key=True)
    exchange_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    visitor_registration_id: Mapped[str] = mapped_column(UUID_STR, index=True)
    host_registration_id: Mapped[str] = mapped_column(UUID_STR, index=True)


class OutboxEvent(OutboxMixin, Base):
    __tablename__ = "outbox"


class InboxEvent(InboxMixin, Base):
    __tablename__ = "inbox"


class IdempotencyKey(IdempotencyKeyMixin, Base):
    __tablename__ = "idempotency_keys"
