"""Registration's own tables."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.db import TYPE_MAP, UUID_STR, new_id, utcnow
from common.idempotency import IdempotencyKeyMixin
from common.outbox import InboxMixin, OutboxMixin
from services.registration.domain import ACTIVE_STATES

ACTIVE_CONDITION = "status IN ({})".format(", ".join(f"'{s}'" for s in ACTIVE_STATES))


class Base(DeclarativeBase):
    type_annotation_map = TYPE_MAP


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(UUID_STR, primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list] = mapped_column()
    partnership_id: Mapped[str | None] = mapped_column(
        ForeignKey("partnerships.id"), nullable=True, index=True
    )
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Null until the owner followed the link of the verification email.
    email_verified_at: Mapped[datetime | None] = mapped_column(nullable=True)
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    # Counted by hand, only on an administrator's change (roles, partnership, suspension):
    # a sign-in writes this row too, and must not make an administrator's form stale.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    suspended_at: Mapped[datetime | None] = mapped_column(nullable=True)


class AccountAudit(Base):
    """What an administrator did to an account: who, when, what changed (old and new)."""

    __tablename__ = "account_audit"
    __table_args__ = (Index("ix_account_audit_account_at", "account_id", "at"),)

    id: Mapped[str] = mapped_column(UUID_STR, primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    actor_id: Mapped[str | None] = mapped_column(UUID_STR, nullable=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(30))
    changes: Mapped[dict] = mapped_column()


class AccountRequest(Base):
    """An account email's reason to exist: verify an address, reset a password, tell an owner
    someone signed up with their address. The link's token is derived from this row's id
    (an HMAC), so no usable token is stored; a row is used once and expires."""

    __tablename__ = "account_requests"
    __table_args__ = (Index("ix_account_requests_account_purpose", "account_id", "purpose"),)

    id: Mapped[str] = mapped_column(UUID_STR, primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    purpose: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Revocation(Base):
    """A signed-out session (`session_id`), or every session of an account issued before
    `not_before`. Kept until `until`, when every token it could cover has expired."""

    __tablename__ = "revocations"

    id: Mapped[str] = mapped_column(UUID_STR, primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(String(80), index=True)
    session_id: Mapped[str | None] = mapped_column(String(80), nullable=True, unique=True)
    not_before: Mapped[datetime | None] = mapped_column(nullable=True)
    until: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """A partnership back-office's key: found by its public prefix, checked by the SHA-256
    of its secret part (a random 256-bit secret needs no slow hash)."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(UUID_STR, primary_key=True, default=new_id)
    partnership_id: Mapped[str] = mapped_column(ForeignKey("partnerships.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(24), unique=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(UUID_STR)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Partnership(Base):
    __tablename__ = "partnerships"

    id: Mapped[str] = mapped_column(UUID_STR, primary_key=True, default=new_id)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    sectors: Mapped[list] = mapped_column()
    countries: Mapped[list] = mapped_column()
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Country(Base):
    """Participating countries, each with the period it participates in."""

    __tablename__ = "countries"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    valid_from: Mapped[date] = mapped_column(Date, primary_key=True)
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    name: Mapped[str] = mapped_column(String(100))
    group: Mapped[str] = mapped_column(String(20))


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(UUID_STR, primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    type: Mapped[str] = mapped_column(String(60))
    country: Mapped[str] = mapped_column(String(2), index=True)
    city: Mapped[str | None] = mapped_column(String(120), nullable=True)
    postcode: Mapped[str | None] = mapped_column(String(20), nullable=True)
    address: Mapped[str | None] = mapped_column(String(300), nullable=True)
    website: Mapped[str | None] = mapped_column(String(300), nullable=True)
    registration_number: Mapped[str | None] = mapped_column(String(60), nullable=True)
    employees: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cluster_member: Mapped[bool] = mapped_column(Boolean, default=False)
    cluster_name: Mapped[str | None] = mapped_column(String(300), nullable=True)
    latitude: Mapped[float | None] = mapped_column(nullable=True)
    longitude: Mapped[float | None] = mapped_column(nullable=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Registration(Base):
    __tablename__ = "registrations"
    __table_args__ = (
        Index("ix_registrations_partnership_status", "partnership_id", "status"),
        UniqueConstraint("reference"),
        # One active registration per participant, enforced where two requests cannot race.
        Index("uq_registrations_one_active", "account_id", unique=True,
              postgresql_where=text(ACTIVE_CONDITION), sqlite_where=text(ACTIVE_CONDITION)),
    )

    id: Mapped[str] = mapped_column(UUID_STR, primary_key=True, default=new_id)
    reference: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    partnership_id: Mapped[str] = mapped_column(ForeignKey("partnerships.id"))
    roles: Mapped[list] = mapped_column()
    motivation: Mapped[str | None] = mapped_column(Text, nullable=True)
    expertise: Mapped[str | None] = mapped_column(Text, nullable=True)
    representative: Mapped[dict] = mapped_column()
    preferences: Mapped[dict] = mapped_column()
    cv_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    cv_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    cv_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    cv_content_type: Mapped[str | None] = mapped_column(String(120), nullable=True)
    cv_filename: Mapped[str | None] = mapped_column(String(200), nullable=True)
    cv_uploaded_at: Mapped[datetime | None] = mapped_column(nullable=True)
    assessment_decision: Mapped[str | None] = mapped_column(String(20), nullable=True)
    assessment_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    assessed_by: Mapped[str | None] = mapped_column(UUID_STR, nullable=True)
    assessed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    submitted_at: Mapped[datetime | None] = mapped_column(nullable=True)
    withdrawn_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __mapper_args__ = {"version_id_col": version}


class Disclosure(Base):
    """Two registrations whose contact request was accepted (from matching's
    `contact_accepted`): each may read the other's contact details. One row per direction."""

    __tablename__ = "disclosures"

    registration_id: Mapped[str] = mapped_column(UUID_STR, primary_key=True)
    counterpart_registration_id: Mapped[str] = mapped_column(UUID_STR, primary_key=True)
    contact_id: Mapped[str] = mapped_column(UUID_STR)
    disclosed_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxEvent(OutboxMixin, Base):
    __tablename__ = "outbox"


class InboxEvent(InboxMixin, Base):
    __tablename__ = "inbox"


class IdempotencyKey(IdempotencyKeyMixin, Base):
    __tablename__ = "idempotency_keys"
