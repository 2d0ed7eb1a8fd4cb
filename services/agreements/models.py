"""Agreements' own tables: exchanges, their documents, signatures, validations, financial
agreements, closing reports and the timeline."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.db import TYPE_MAP, UUID_STR, new_id, utcnow
from common.idempotency import IdempotencyKeyMixin
from common.outbox import InboxMixin, OutboxMixin

# Every exchange that was not cancelled counts as the visitor's one visit.
VISIT_CONDITION = "status <> 'cancelled'"


class Base(DeclarativeBase):
    type_annotation_map = TYPE_MAP


class Exchange(Base):
    __tablename__ = "exchanges"
    __table_args__ = (
        # An organisation visits at most once, enforced where two proposals cannot race.
        Index("uq_exchanges_one_visit", "visitor_organisation_id", unique=True,
              postgresql_where=text(VISIT_CONDITION), sqlite_where=text(VISIT_CONDITION)),
        Index("ix_exchanges_host_status", "host_organisation_id", "status"),
        Index("ix_exchanges_visitor_partnership", "visitor_partnership_id", "status"),
        Index("ix_exchanges_host_partnership", "host_partnership_id", "status"),
        Index("ix_exchanges_status_start", "status", "start_date"),
        UniqueConstraint("reference"),
    )

    id: Mapped[str] = mapped_column(UUID_STR, primary_key=True, default=new_id)
    reference: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20))
    proposed_by: Mapped[str] = mapped_column(UUID_STR)
    proposer_party: Mapped[str] = mapped_column(String(2))
    contact_id: Mapped[str | None] = mapped_column(UUID_STR, nullable=True)
    visitor_registration_id: Mapped[str] = mapped_column(UUID_STR)
    visitor_account_id: Mapped[str] = mapped_column(UUID_STR, index=True)
    visitor_organisation_id: Mapped[str] = mapped_column(UUID_STR)
    visitor_organisation_name: Mapped[str] = mapped_column(String(300))
    visitor_country: Mapped[str] = mapped_column(String(2))
    visitor_partnership_id: Mapped[str] = mapped_column(UUID_STR)
    host_registration_id: Mapped[str] = mapped_column(UUID_STR)
    host_account_id: Mapped[str] = mapped_column(UUID_STR, index=True)
    host_organisation_id: Mapped[str] = mapped_column(UUID_STR)
    host_organisation_name: Mapped[str] = mapped_column(String(300))
    host_country: Mapped[str] = mapped_column(String(2))
    host_partnership_id: Mapped[str] = mapped_column(UUID_STR)
    plan: Mapped[dict] = mapped_column()
    # Dates also as columns: the timers that start and complete stays query them.
    start_date: Mapped[str | None] = mapped_column(String(10), nullable=True)
    end_date: Mapped[str | None] = mapped_column(String(10), nullable=True)
    # The content's version: it changes whenever the plan does, and signatures belong to one.
    content_version: Mapped[int] = mapped_column(Integer, default=1)
    cancel_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The last payments event applied (domain.payout_position); 0 before any.
    payout_position: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __mapper_args__ = {"version_id_col": version}


class ReferenceCounter(Base):
    """The last exchange number given out per year (row-locked while a number is taken)."""

    __tablename__ = "reference_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class Validation(Base):
    __tablename__ = "validations"
    __table_args__ = (UniqueConstraint("exchange_id", "content_version", "party"),)

    id: Mapped[str] = mapped_column(UUID_STR, primary_key=True, default=new_id)
    exchange_id: Mapped[str] = mapped_column(ForeignKey("exchanges.id"), index=True)
    content_version: Mapped[int] = mapped_column(Integer)
    party: Mapped[str] = mapped_column(String(3))
    decision: Mapped[str] = mapped_column(String(10))
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    account_id: Mapped[str] = mapped_column(UUID_STR)
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)


class Document(Base):
    """One rendered version of the commitment to quality: immutable, content-addressed."""

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("exchange_id", "content_version"),)

    id: Mapped[str] = mapped_column(UUID_STR, primary_key=True, default=new_id)
    exchange_id: Mapped[str] = mapped_column(ForeignKey("exchanges.id"), index=True)
    content_version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    # The latest copy with every seal so far appended (its first bytes are the document).
    sealed_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    sealed_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Signature(Base):
    __tablename__ = "signatures"
    __table_args__ = (UniqueConstraint("exchange_id", "content_version", "party"),)

    id: Mapped[str] = mapped_column(UUID_STR, primary_key=True, default=new_id)
    exchange_id: Mapped[str] = mapped_column(ForeignKey("exchanges.id"), index=True)
    content_version: Mapped[int] = mapped_column(Integer)
    party: Mapped[str] = mapped_column(String(3))
    account_id: Mapped[str] = mapped_column(UUID_STR)
    signer_name: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(20))  # platform | paper_scan | signed_pdf
    document_sha256: Mapped[str] = mapped_column(String(64))
    evidence_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    evidence_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    external_signer: Mapped[str | None] = mapped_column(String(300), nullable=True)
    ip_address: Mapped[str | None] = mapped_column(String(45), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(300), nullable=True)
    signed_at: Mapped[datetime] = mapped_column(default=utcnow)


class FinancialAgreement(Base):
    __tablename__ = "financial_agreements"

    exchange_id: Mapped[str] = mapped_column(ForeignKey("exchanges.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    amount_cents: Mapped[int] = mapped_column(Integer)
    quote: Mapped[dict] = mapped_column()
    account_holder: Mapped[str | None] = mapped_column(String(200), nullable=True)
    iban_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    iban_masked: Mapped[str | None] = mapped_column(String(24), nullable=True)
    bic: Mapped[str | None] = mapped_column(String(11), nullable=True)
    vo_signed_by: Mapped[str | None] = mapped_column(UUID_STR, nullable=True)
    vo_signed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    vop_signed_by: Mapped[str | None] = mapped_column(UUID_STR, nullable=True)
    vop_signed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __mapper_args__ = {"version_id_col": version}


class ClosingReport(Base):
    __tablename__ = "closing_reports"
    __table_args__ = (UniqueConstraint("exchange_id", "party"),)

    id: Mapped[str] = mapped_column(UUID_STR, primary_key=True, default=new_id)
    exchange_id: Mapped[str] = mapped_column(ForeignKey("exchanges.id"), index=True)
    party: Mapped[str] = mapped_column(String(2))  # vo | ho
    outcomes: Mapped[list] = mapped_column()
    follow_up: Mapped[str | None] = mapped_column(Text, nullable=True)
    satisfaction: Mapped[int] = mapped_column(Integer)
    submitted_by: Mapped[str] = mapped_column(UUID_STR)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)


class TimelineEntry(Base):
    __tablename__ = "timeline"

    id: Mapped[str] = mapped_column(UUID_STR, primary_key=True, default=new_id)
    exchange_id: Mapped[str] = mapped_column(ForeignKey("exchanges.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    account_id: Mapped[str | None] = mapped_column(UUID_STR, nullable=True)
    party: Mapped[str] = mapped_column(String(6))
    action: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_state: Mapped[str | None] = mapped_column(String(20), nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)


class OutboxEvent(OutboxMixin, Base):
    __tablename__ = "outbox"


class InboxEvent(InboxMixin, Base):
    __tablename__ = "inbox"


class IdempotencyKey(IdempotencyKeyMixin, Base):
    __tablename__ = "idempotency_keys"
