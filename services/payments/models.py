"""Payments' own tables. Amounts are integer euro cents (BIGINT where sums accumulate).

Money movements are rows of `ledger_entries`, which the database itself keeps append-only
(triggers refuse UPDATE and DELETE). `budgets` holds running totals for the conditional
update that makes reservations safe under concurrency; the ledger sums must always equal
them. `exchange_funds` holds where each exchange's lump sum stands.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    DDL,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from common.db import TYPE_MAP, UUID_STR, new_id, utcnow
from common.idempotency import IdempotencyKeyMixin
from common.outbox import InboxMixin, OutboxMixin
from services.payments.evidence import DRAFT
from services.payments.payouts import APPROVED, BATCH_OPEN, ITEM_PENDING

_ID = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER keys only
EXCHANGE_ID = String(36)
CAUSE_ID = String(120)


class Base(DeclarativeBase):
    type_annotation_map = TYPE_MAP


class LumpSumRate(Base):
    """One figure of the lump-sum table, for one host country and period (dates inclusive)."""

    __tablename__ = "lump_sum_rates"
    __table_args__ = (
        UniqueConstraint("country", "valid_from"),
        UniqueConstraint("country", "version"),
        CheckConstraint("amount_cents > 0", name="ck_lump_sum_rates_positive"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="ck_lump_sum_rates_period"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    country: Mapped[str] = mapped_column(String(2), index=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LumpSumRateChange(Base):
    """Who changed which figure when, from what to what (None: the country's first figure)."""

    __tablename__ = "lump_sum_rate_changes"

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    country: Mapped[str] = mapped_column(String(2), index=True)
    old_amount_cents: Mapped[int | None] = mapped_column(Integer, nullable=True)
    new_amount_cents: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[date] = mapped_column(Date)
    changed_by: Mapped[str] = mapped_column(UUID_STR)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str] = mapped_column(Text, default="")


class Budget(Base):
    """A partnership's envelope with running totals; available = budget − reserved − paid."""

    __tablename__ = "budgets"
    __table_args__ = (
        CheckConstraint("reserved_cents >= 0", name="ck_budgets_reserved"),
        CheckConstraint("paid_cents >= 0", name="ck_budgets_paid"),
        # The last line of defence against overspending, whatever the code does.
        CheckConstraint("budget_cents - reserved_cents - paid_cents >= 0", name="ck_budgets_available"),
    )

    partnership_id: Mapped[str] = mapped_column(UUID_STR, primary_key=True)
    budget_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ExchangeFunds(Base):
    """Where one exchange's lump sum stands: reserved, released, paid (see ledger.Funds)."""

    __tablename__ = "exchange_funds"
    __table_args__ = (CheckConstraint("amount_cents > 0", name="ck_exchange_funds_positive"),)

    exchange_id: Mapped[str] = mapped_column(EXCHANGE_ID, primary_key=True)
    partnership_id: Mapped[str] = mapped_column(UUID_STR, index=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerEntry(Base):
    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_entries_partnership_id_id", "partnership_id", "id"),
                      # The budget's history: a partnership's entries in a period.
                      Index("ix_ledger_entries_partnership_id_at", "partnership_id", "at"))

    id: Mapped[int] = mapped_column(_ID, primary_key=True, autoincrement=True)
    partnership_id: Mapped[str] = mapped_column(UUID_STR)
    kind: Mapped[str] = mapped_column(String(20))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    exchange_id: Mapped[str | None] = mapped_column(EXCHANGE_ID, nullable=True, index=True)
    cause_id: Mapped[str] = mapped_column(CAUSE_ID)
    # ledger.entry_key(kind, exchange, cause): the same cause twice cannot make two entries.
    entry_key: Mapped[str] = mapped_column(String(200), unique=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)


APPEND_ONLY_POSTGRESQL = [
    DDL("""
CREATE FUNCTION ledger_entries_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only (%% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql"""),
    DDL("CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries "
        "FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only()"),
]
APPEND_ONLY_SQLITE = [
    DDL(f"CREATE TRIGGER ledger_entries_no_{op.lower()} BEFORE {op} ON ledger_entries "
        f"BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only ({op} refused)'); END")
    for op in ("UPDATE", "DELETE")
]
# The migration must run the same statements (exported for it; DDL turns %% into %).
for _ddl in APPEND_ONLY_POSTGRESQL:
    event.listen(LedgerEntry.__table__, "after_create", _ddl.execute_if(dialect="postgresql"))
for _ddl in APPEND_ONLY_SQLITE:
    event.listen(LedgerEntry.__table__, "after_create", _ddl.execute_if(dialect="sqlite"))


class DebtorAccount(Base):
    """The partnership's own bank account that SEPA files debit (organisation data, set by an
    administrator)."""

    __tablename__ = "debtor_accounts"

    partnership_id: Mapped[str] = mapped_column(UUID_STR, primary_key=True)
    name: Mapped[str] = mapped_column(String(70))
    iban: Mapped[str] = mapped_column(String(34))
    bic: Mapped[str | None] = mapped_column(String(11), nullable=True)
    updated_by: Mapped[str | None] = mapped_column(UUID_STR, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Claim(Base):
    """The visitor's payment claim for one exchange: evidence, submission, review."""

    __tablename__ = "claims"
    __table_args__ = (Index("ix_claims_partnership_state", "partnership_id", "state"),)

    id: Mapped[str] = mapped_column(UUID_STR, primary_key=True, default=new_id)
    exchange_id: Mapped[str] = mapped_column(EXCHANGE_ID, unique=True)
    exchange_reference: Mapped[str] = mapped_column(String(20))
    partnership_id: Mapped[str] = mapped_column(UUID_STR)
    visitor_account_id: Mapped[str] = mapped_column(UUID_STR, index=True)
    state: Mapped[str] = mapped_column(String(20), default=DRAFT)
    version: Mapped[int] = mapped_column(Integer, default=1)
    submitted_at: Mapped[datetime | None] = mapped_column(nullable=True)
    reviewed_by: Mapped[str | None] = mapped_column(UUID_STR, nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    review_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    __mapper_args__ = {"version_id_col": version}


class EvidenceFile(Base):
    __tablename__ = "evidence_files"

    id: Mapped[str] = mapped_column(UUID_STR, primary_key=True, default=new_id)
    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.id"), index=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(120))
    filename: Mapped[str | None] = mapped_column(String(200), nullable=True)
    uploaded_by: Mapped[str] = mapped_column(UUID_STR)
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Payout(Base):
    """At most one per exchange: approving twice, or the same event twice, hits the UNIQUE."""

    __tablename__ = "payouts"
    __table_args__ = (
        Index("ix_payouts_partnership_state", "partnership_id", "state"),
        CheckConstraint("amount_cents > 0", name="ck_payouts_amount"),
    )

    id: Mapped[str] = mapped_column(UUID_STR, primary_key=True, default=new_id)
    exchange_id: Mapped[str] = mapped_column(EXCHANGE_ID, unique=True)
    exchange_reference: Mapped[str] = mapped_column(String(20))
    claim_id: Mapped[str] = mapped_column(ForeignKey("claims.id"), unique=True)
    partnership_id: Mapped[str] = mapped_column(UUID_STR)
    visitor_account_id: Mapped[str] = mapped_column(UUID_STR, index=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20), default=APPROVED)
    approved_by: Mapped[str] = mapped_column(UUID_STR)
    approved_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_on: Mapped[date] = mapped_column(Date, index=True)
    paid_at: Mapped[datetime | None] = mapped_column(nullable=True)
    failed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class PaymentBatch(Base):
    __tablename__ = "payment_batches"
    __table_args__ = (CheckConstraint("total_cents >= 0", name="ck_payment_batches_total"),)

    id: Mapped[str] = mapped_column(UUID_STR, primary_key=True, default=new_id)
    partnership_id: Mapped[str] = mapped_column(UUID_STR, index=True)
    state: Mapped[str] = mapped_column(String(20), default=BATCH_OPEN)
    payout_count: Mapped[int] = mapped_column(Integer)
    total_cents: Mapped[int] = mapped_column(BigInteger)
    # The pain.001 MsgId (max 35 characters), fixed at creation so a re-download is the same file.
    message_id: Mapped[str] = mapped_column(String(35), unique=True)
    execution_date: Mapped[date] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(UUID_STR)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(nullable=True)


ITEM_IS_PENDING = f"outcome = '{ITEM_PENDING}'"


class PaymentBatchItem(Base):
    __tablename__ = "payment_batch_items"
    __table_args__ = (
        # A payout is in at most one batch awaiting its outcome (a failed one may be retried later).
        Index("uq_payment_batch_items_pending_payout", "payout_id", unique=True,
              postgresql_where=text(ITEM_IS_PENDING), sqlite_where=text(ITEM_IS_PENDING)),
    )

    batch_id: Mapped[str] = mapped_column(ForeignKey("payment_batches.id"), primary_key=True)
    payout_id: Mapped[str] = mapped_column(ForeignKey("payouts.id"), primary_key=True)
    amount_cents: Mapped[int] = mapped_column(Integer)
    end_to_end_id: Mapped[str] = mapped_column(String(35))
    outcome: Mapped[str] = mapped_column(String(20), default=ITEM_PENDING)
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    settled_at: Mapped[datetime | None] = mapped_column(nullable=True)


class OutboxEvent(OutboxMixin, Base):
    __tablename__ = "outbox"


class InboxEvent(InboxMixin, Base):
    __tablename__ = "inbox"


class IdempotencyKey(IdempotencyKeyMixin, Base):
    __tablename__ = "idempotency_keys"
