"""Webhooks' tables: endpoints, their deliveries (one per event and endpoint), every attempt,
and the registration -> partnership projection that scopes matching's events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from common.db import UUID_STR, new_id, utcnow
from services.notifications.models import Base

_ID = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER keys only


class WebhookEndpoint(Base):
    """A partnership's endpoint and the event types it wants. The secret is sealed (Fernet);
    after a rotation the previous one keeps signing until `previous_secret_until`."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (UniqueConstraint("partnership_id", "url", name="uq_webhook_endpoints_url"),)

    id: Mapped[str] = mapped_column(UUID_STR, primary_key=True, default=new_id)
    partnership_id: Mapped[str] = mapped_column(UUID_STR, index=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(300), nullable=True)
    event_types: Mapped[list] = mapped_column()
    active: Mapped[bool] = mapped_column(default=True)
    sealed_secret: Mapped[str] = mapped_column(Text)
    previous_sealed_secret: Mapped[str | None] = mapped_column(Text, nullable=True)
    previous_secret_until: Mapped[datetime | None] = mapped_column(nullable=True)
    created_by: Mapped[str] = mapped_column(String(80))  # an account id or apikey:<id>
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    secret_rotated_at: Mapped[datetime | None] = mapped_column(nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class WebhookDelivery(Base):
    """One event for one endpoint, created in the transaction that handled the event.

    pending -> sending (claimed: claim token, attempts + 1, lease) -> delivered | pending
    (retry at next_attempt_at) | failed (after the last attempt). `body` is the exact JSON
    that is signed and sent, the same bytes on every attempt.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id", name="uq_webhook_deliveries_event_endpoint"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[str] = mapped_column(UUID_STR)
    event_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claim_token: Mapped[str | None] = mapped_column(String(36), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(nullable=True)


class WebhookAttempt(Base):
    """One try of a delivery: what the receiver answered (or why nothing), and when next."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (
        UniqueConstraint("delivery_id", "attempt", name="uq_webhook_attempts_delivery_attempt"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    delivery_id: Mapped[int] = mapped_column(_ID, index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column()
    duration_ms: Mapped[int] = mapped_column(Integer)
    response_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    outcome: Mapped[str] = mapped_column(String(20))  # delivered, retry, failed
    next_attempt_at: Mapped[datetime | None] = mapped_column(nullable=True)


class RegistrationPartnership(Base):
    """registration id -> partnership id, from registration's events (newest version wins):
    matching's events name registrations only."""

    __tablename__ = "webhook_registration_partnerships"

    registration_id: Mapped[str] = mapped_column(UUID_STR, primary_key=True)
    partnership_id: Mapped[str] = mapped_column(UUID_STR)
    registration_version: Mapped[int] = mapped_column(Integer)
