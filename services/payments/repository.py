"""Payments' queries, above all the concurrency-critical money movements.

Each movement runs inside the caller's transaction (the caller commits, together with the
outbox row of the event it emits, or rolls back everything on an error):

- a reservation is ONE conditional UPDATE of the budget row, which succeeds only if the
  amount still fits (PostgreSQL re-checks the condition on the latest row version after
  waiting for a concurrent writer, so concurrent signatures cannot overspend), plus the
  ledger insert;
- release / pay / fail move one exchange's funds with a conditional UPDATE on its
  `exchange_funds` row (state must be the expected one), then apply the same deltas to the
  budget row as `ledger.effect` does, then insert the ledger entry;
- every movement is idempotent by its cause: a cause already in the ledger returns None,
  also when a concurrent duplicate committed first.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, case, cast, func, select, update
from sqlalchemy.orm import Session

from common.db import dialect_insert, is_postgres, new_id
from common.errors import Conflict, InvalidState, NotFound, StaleVersion
from services.payments import models, payouts
from services.payments.budget_history import Movement
from services.payments.evidence import DRAFT, PAYMENT_DUE_DAYS, due_on
from services.payments.exceptions import (
    BudgetBelowCommitments,
    FundsNotInState,
    InsufficientBudget,
    NoBudget,
)
from services.payments.ledger import EFFECTS as LEDGER_EFFECTS
from services.payments.ledger import Balance, Funds, Kind, LedgerEntry, effect, entry_key
from services.payments.lump_sums import LumpSumRate, LumpSumTable, RateChange
from services.payments.money import ensure_cents

Budget = models.Budget.__table__
Funds_ = models.ExchangeFunds.__table__
Ledger = models.LedgerEntry.__table__


# --- ledger --------------------------------------------------------------------------

def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(row.partnership_id, Kind(row.kind), row.amount_cents, row.cause_id, row.at,
                       row.exchange_id)


def _recorded(session: Session, key: str) -> LedgerEntry | None:
    row = session.execute(select(Ledger).where(Ledger.c.entry_key == key)).first()
    return _entry(row) if row else None


def _append(session: Session, entry: LedgerEntry) -> LedgerEntry:
    session.execute(Ledger.insert().values(
        partnership_id=entry.partnership_id, kind=entry.kind.value, amount_cents=entry.amount_cents,
        exchange_id=entry.exchange_id, cause_id=entry.cause_id, entry_key=entry.key, at=entry.at))
    return entry


def ledger_entries(session: Session, partnership_id: str) -> list[LedgerEntry]:
    rows = session.execute(select(Ledger).where(Ledger.c.partnership_id == partnership_id)
                           .order_by(Ledger.c.id))
    return [_entry(row) for row in rows]


def ledger_balance(session: Session, partnership_id: str) -> Balance:
    """The balance summed from the ledger (what the running totals must always equal)."""
    rows = session.execute(select(Ledger.c.kind, func.sum(Ledger.c.amount_cents))
                           .where(Ledger.c.partnership_id == partnership_id).group_by(Ledger.c.kind))
    budget = reserved = paid = 0
    for kind, total in rows:
        db, dr, dp = effect(Kind(kind), int(total))
        budget, reserved, paid = budget + db, reserved + dr, paid + dp
    return Balance(budget, reserved, paid)


# --- budgets -------------------------------------------------------------------------

def balance(session: Session, partnership_id: str) -> Balance | None:
    row = session.execute(select(Budget).where(Budget.c.partnership_id == partnership_id)).first()
    if row is None:
        return None
    return Balance(row.budget_cents, row.reserved_cents, row.paid_cents)


ENVELOPE_KINDS = (Kind.BUDGET_SET.value, Kind.BUDGET_CHANGE.value)


def budget_version(session: Session, partnership_id: str) -> int:
    """How many times the envelope was set: the version an administrator's change is made
    against (0 before the first). Reservations and payments do not change it: they never
    make an envelope an administrator chose wrong, and the service re-checks the figures."""
    return session.execute(select(func.count()).select_from(Ledger).where(
        Ledger.c.partnership_id == partnership_id, Ledger.c.kind.in_(ENVELOPE_KINDS))).scalar_one()


def set_budget(session: Session, partnership_id: str, budget_cents: int, cause_id: str,
               at: datetime, expected_version: int | None = None) -> LedgerEntry | None:
    """Sets the envelope (an administrator's request); never below what is reserved or paid.
    With `expected_version`, only if nobody set it since that version (else StaleVersion)."""
    ensure_cents(budget_cents, "budget_cents")
    key = entry_key(Kind.BUDGET_SET, None, cause_id)
    if _recorded(session, key):
        return None
    created = session.execute(
        dialect_insert(session)(Budget).values(partnership_id=partnership_id, budget_cents=budget_cents,
                                               reserved_cents=0, paid_cents=0, updated_at=at)
        .on_conflict_do_nothing()).rowcount == 1
    if created:
        _check_budget_version(0, expected_version)
        return _append(session, LedgerEntry(partnership_id, Kind.BUDGET_SET, budget_cents, cause_id, at))
    current = session.execute(select(Budget).where(Budget.c.partnership_id == partnership_id)
                              .with_for_update()).one()
    if _recorded(session, key):
        # A twin of this request committed while we waited for the row: done already (the
        # budget may have moved since, so the difference must not be recorded again).
        return None
    # Under the row's lock: a concurrent change made against the same version committed
    # first is seen here, and this one is refused.
    _check_budget_version(budget_version(session, partnership_id), expected_version)
    change = budget_cents - current.budget_cents
    if change == 0:
        return None
    changed = session.execute(
        update(Budget).where(Budget.c.partnership_id == partnership_id,
                             Budget.c.reserved_cents + Budget.c.paid_cents <= budget_cents)
        .values(budget_cents=budget_cents, updated_at=at)).rowcount
    if changed != 1:
        raise BudgetBelowCommitments.for_amounts(budget_cents, current.reserved_cents + current.paid_cents)
    return _append(session, LedgerEntry(partnership_id, Kind.BUDGET_CHANGE, change, cause_id, at))


def _check_budget_version(current: int, expected: int | None) -> None:
    if expected is not None and expected != current:
        raise StaleVersion(f"You read version {expected} of this budget; it is now at version "
                           f"{current}: someone set the envelope meanwhile. Check the current "
                           "figures and set it again.", {"version": [f"The current version is {current}."]})


def reserve(session: Session, partnership_id: str, exchange_id: str, amount_cents: int, cause_id: str,
            at: datetime) -> LedgerEntry | None:
    """Reserves an exchange's lump sum, or raises InsufficientBudget / NoBudget / FundsNotInState.

    None means this cause was already recorded (nothing more happened)."""
    ensure_cents(amount_cents, "amount_cents", positive=True)
    key = entry_key(Kind.RESERVE, exchange_id, cause_id)
    if _recorded(session, key):
        return None
    # The exchange's row first, the budget row second: the same lock order as release/pay/fail.
    claimed = session.execute(
        dialect_insert(session)(Funds_).values(exchange_id=exchange_id, partnership_id=partnership_id,
                                               amount_cents=amount_cents, state=Funds.RESERVED.value,
                                               updated_at=at)
        .on_conflict_do_nothing()).rowcount == 1
    if not claimed:
        if _recorded(session, key):  # a concurrent duplicate of this cause committed first
            return None
        state = session.execute(select(Funds_.c.state).where(Funds_.c.exchange_id == exchange_id)).scalar()
        raise FundsNotInState.for_exchange(exchange_id, "reserve", "not yet reserved", state or "none")
    fits = session.execute(
        update(Budget)
        .where(Budget.c.partnership_id == partnership_id,
               Budget.c.budget_cents - Budget.c.reserved_cents - Budget.c.paid_cents >= amount_cents)
        .values(reserved_cents=Budget.c.reserved_cents + amount_cents, updated_at=at)).rowcount == 1
    if not fits:
        # Raising rolls the caller's transaction back, the exchange's row included.
        current = balance(session, partnership_id)
        if current is None:
            raise NoBudget.for_partnership(partnership_id)
        raise InsufficientBudget.for_amounts(partnership_id, current.available_cents, amount_cents)
    return _append(session, LedgerEntry(partnership_id, Kind.RESERVE, amount_cents, cause_id, at,
                                        exchange_id))


_MOVES = {  # kind → (action in words, funds state needed, funds state after)
    Kind.RELEASE: ("release", Funds.RESERVED, Funds.RELEASED),
    Kind.PAY: ("pay", Funds.RESERVED, Funds.PAID),
    Kind.FAIL: ("mark failed", Funds.PAID, Funds.RESERVED),
}


def _move(session: Session, exchange_id: str, kind: Kind, cause_id: str, at: datetime) -> LedgerEntry | None:
    key = entry_key(kind, exchange_id, cause_id)
    if _recorded(session, key):
        return None
    # The exchange's row locked first, then the cause checked again: a twin that committed
    # while we waited (and a move back since, e.g. pay → fail) must not move the money twice.
    session.execute(select(Funds_.c.exchange_id).where(Funds_.c.exchange_id == exchange_id)
                    .with_for_update())
    if _recorded(session, key):
        return None
    action, needed, after = _MOVES[kind]
    moved = session.execute(
        update(Funds_).where(Funds_.c.exchange_id == exchange_id, Funds_.c.state == needed.value)
        .values(state=after.value, updated_at=at)
        .returning(Funds_.c.partnership_id, Funds_.c.amount_cents)).first()
    if moved is None:
        if _recorded(session, key):  # a concurrent duplicate of this cause committed first
            return None
        state = session.execute(select(Funds_.c.state).where(Funds_.c.exchange_id == exchange_id)).scalar()
        raise FundsNotInState.for_exchange(exchange_id, action, needed.value, state or Funds.NONE.value)
    _, d_reserved, d_paid = effect(kind, moved.amount_cents)
    session.execute(update(Budget).where(Budget.c.partnership_id == moved.partnership_id).values(
        reserved_cents=Budget.c.reserved_cents + d_reserved, paid_cents=Budget.c.paid_cents + d_paid,
        updated_at=at))
    return _append(session, LedgerEntry(moved.partnership_id, kind, moved.amount_cents, cause_id, at,
                                        exchange_id))


def release(session: Session, exchange_id: str, cause_id: str, at: datetime) -> LedgerEntry | None:
    return _move(session, exchange_id, Kind.RELEASE, cause_id, at)


def pay(session: Session, exchange_id: str, cause_id: str, at: datetime) -> LedgerEntry | None:
    return _move(session, exchange_id, Kind.PAY, cause_id, at)


def fail(session: Session, exchange_id: str, cause_id: str, at: datetime) -> LedgerEntry | None:
    return _move(session, exchange_id, Kind.FAIL, cause_id, at)


def funds_state(session: Session, exchange_id: str) -> Funds:
    state = session.execute(select(Funds_.c.state).where(Funds_.c.exchange_id == exchange_id)).scalar()
    return Funds(state) if state else Funds.NONE


def budget_kpis(session: Session, partnership_id: str) -> dict[str, dict[str, int]]:
    """Exchanges and amounts per state of their lump sum: reserved, paid, released (cancelled)."""
    rows = session.execute(
        select(Funds_.c.state, func.count(), func.coalesce(func.sum(Funds_.c.amount_cents), 0))
        .where(Funds_.c.partnership_id == partnership_id).group_by(Funds_.c.state))
    kpis = {state.value: {"exchanges": 0, "amount_cents": 0}
            for state in (Funds.RESERVED, Funds.PAID, Funds.RELEASED)}
    for state, count, total in rows:
        kpis[state] = {"exchanges": int(count), "amount_cents": int(total)}
    return kpis


# --- lump-sum table ------------------------------------------------------------------

Rates = models.LumpSumRate.__table__


def load_table(session: Session, threshold_cents: int) -> LumpSumTable:
    rows = session.execute(select(Rates).order_by(Rates.c.country, Rates.c.valid_from))
    return LumpSumTable(tuple(LumpSumRate(r.country, r.amount_cents, r.valid_from, r.valid_to, r.version)
                              for r in rows), threshold_cents)


def seed_rates(session: Session, table: LumpSumTable) -> int:
    """Loads shipped figures that are not in the database yet (`cxc seed`; run again: no-op).
    A figure an administrator changed since is kept, not overwritten."""
    added = 0
    for rate in table.rates:
        added += session.execute(
            dialect_insert(session)(Rates).values(country=rate.country, amount_cents=rate.amount_cents,
                                                  valid_from=rate.valid_from, valid_to=rate.valid_to,
                                                  version=rate.version)
            .on_conflict_do_nothing()).rowcount
    return added


def save_rate_change(session: Session, table: LumpSumTable, change: RateChange) -> None:
    """Writes an administrator's change: the country's figures as `table` has them, and the record.

    The caller builds `table` with `LumpSumTable.with_rate` from `load_table` under a lock of the
    country's rows (`lock_rates`), so two concurrent edits cannot interleave."""
    session.execute(Rates.delete().where(Rates.c.country == change.country))
    for rate in table.history(change.country):
        session.execute(Rates.insert().values(country=rate.country, amount_cents=rate.amount_cents,
                                              valid_from=rate.valid_from, valid_to=rate.valid_to,
                                              version=rate.version))
    session.execute(models.LumpSumRateChange.__table__.insert().values(
        country=change.country, old_amount_cents=change.old_amount_cents,
        new_amount_cents=change.new_amount_cents, valid_from=change.valid_from,
        changed_by=change.changed_by, changed_at=change.changed_at, reason=change.reason))


def lock_rates(session: Session, country: str) -> None:
    session.execute(select(Rates.c.id).where(Rates.c.country == country).with_for_update()).all()


def rate_changes(session: Session, country: str | None = None) -> list[RateChange]:
    table = models.LumpSumRateChange.__table__
    query = select(table).order_by(table.c.id)
    if country:
        query = query.where(table.c.country == country)
    return [RateChange(r.country, r.old_amount_cents, r.new_amount_cents, r.valid_from, r.changed_by,
                       r.changed_at, r.reason) for r in session.execute(query)]


def overdue_payouts(session: Session, today: date, partnership_id: str | None = None) -> list[Any]:
    """Approved payouts not yet paid whose due date has passed (the overdue list)."""
    payouts = models.Payout.__table__
    query = (select(payouts).where(payouts.c.state != "paid", payouts.c.due_on < today)
             .order_by(payouts.c.due_on))
    if partnership_id:
        query = query.where(payouts.c.partnership_id == partnership_id)
    return list(session.execute(query))


# --- claims ----------------------------------------------------------------------------

Claims = models.Claim.__table__


def open_claim(session: Session, *, exchange_id: str, exchange_reference: str, partnership_id: str,
               visitor_account_id: str, at: datetime) -> tuple[str, bool]:
    """The exchange's claim in draft (on `closing_report_submitted`): one per exchange, so a
    redelivered event finds the first. Returns (id, created)."""
    created = session.execute(dialect_insert(session)(Claims).values(
        id=new_id(), exchange_id=exchange_id, exchange_reference=exchange_reference,
        partnership_id=partnership_id, visitor_account_id=visitor_account_id, state=DRAFT, version=1,
        created_at=at, updated_at=at).on_conflict_do_nothing()).rowcount == 1
    claim_id = session.execute(select(Claims.c.id).where(Claims.c.exchange_id == exchange_id)).scalar_one()
    return claim_id, created


# --- payouts and batches --------------------------------------------------------------

Payouts = models.Payout.__table__
Batches = models.PaymentBatch.__table__
Items = models.PaymentBatchItem.__table__


def create_payout(session: Session, *, claim_id: str, exchange_id: str, exchange_reference: str,
                  partnership_id: str, visitor_account_id: str, amount_cents: int, approved_by: str,
                  approved_at: datetime, due_days: int = PAYMENT_DUE_DAYS) -> tuple[str, bool]:
    """The exchange's payout: (id, True) when this call created it, (id, False) when it existed.

    The UNIQUE exchange_id (and claim_id) makes a second approval, or the same event twice,
    find the first payout instead of making another, also when both run at once."""
    ensure_cents(amount_cents, "amount_cents", positive=True)
    created = session.execute(dialect_insert(session)(Payouts).values(
        id=new_id(), claim_id=claim_id, exchange_id=exchange_id, exchange_reference=exchange_reference,
        partnership_id=partnership_id, visitor_account_id=visitor_account_id, amount_cents=amount_cents,
        state=payouts.APPROVED, approved_by=approved_by, approved_at=approved_at,
        due_on=due_on(approved_at, due_days), attempts=0).on_conflict_do_nothing()).rowcount == 1
    payout_id = session.execute(select(Payouts.c.id).where(Payouts.c.exchange_id == exchange_id)).scalar()
    if payout_id is None:  # the claim already has a payout for another exchange: a caller's bug
        raise Conflict(f"Claim {claim_id} already has a payout.", {"claim_id": claim_id})
    return payout_id, created


def batch_message_id(batch_id: str) -> str:
    return "CXC-" + batch_id.replace("-", "")[:31]


def create_batch(session: Session, partnership_id: str, created_by: str, at: datetime,
                 execution_date: date, payout_ids: list[str] | None = None) -> str:
    """Groups the partnership's approved (or failed, to retry) payouts into a new batch.

    On PostgreSQL the payouts are locked with SKIP LOCKED, so two contact points batching at
    once split the payouts instead of both taking them; the partial unique index on pending
    batch items is the backstop on every database."""
    query = (select(Payouts.c.id, Payouts.c.amount_cents, Payouts.c.exchange_reference)
             .where(Payouts.c.partnership_id == partnership_id,
                    Payouts.c.state.in_(payouts.BATCHABLE_STATES))
             .order_by(Payouts.c.due_on, Payouts.c.id))
    if payout_ids is not None:
        query = query.where(Payouts.c.id.in_(payout_ids))
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    rows = session.execute(query).all()
    if not rows:
        raise InvalidState("There are no approved payouts of this partnership to batch.",
                           {"payouts": ["None is waiting for a batch."]})
    batch_id = new_id()
    session.execute(Batches.insert().values(
        id=batch_id, partnership_id=partnership_id, state=payouts.BATCH_OPEN, payout_count=len(rows),
        total_cents=sum(row.amount_cents for row in rows), message_id=batch_message_id(batch_id),
        execution_date=execution_date, created_by=created_by, created_at=at))
    session.execute(Items.insert(), [
        {"batch_id": batch_id, "payout_id": row.id, "amount_cents": row.amount_cents,
         "end_to_end_id": row.exchange_reference, "outcome": payouts.ITEM_PENDING} for row in rows])
    moved = session.execute(
        update(Payouts).where(Payouts.c.id.in_([row.id for row in rows]),
                              Payouts.c.state.in_(payouts.BATCHABLE_STATES))
        .values(state=payouts.BATCHED, attempts=Payouts.c.attempts + 1)).rowcount
    if moved != len(rows):
        raise Conflict("Some payouts were batched by someone else meanwhile; try again.")
    return batch_id


def get_batch(session: Session, batch_id: str) -> Any:
    batch = session.execute(select(Batches).where(Batches.c.id == batch_id)).first()
    if batch is None:
        raise NotFound("No such payment batch.")
    return batch


def batch_items(session: Session, batch_id: str) -> list[Any]:
    return list(session.execute(
        select(Items, Payouts.c.exchange_id, Payouts.c.visitor_account_id)
        .join(Payouts, Payouts.c.id == Items.c.payout_id)
        .where(Items.c.batch_id == batch_id).order_by(Items.c.end_to_end_id)))


def mark_batch_paid(session: Session, batch_id: str, cause_id: str, at: datetime) -> list[str]:
    """Every payout of the batch still pending is paid: the ledger's reservation becomes paid.

    Returns the exchanges paid by this call (empty when the batch was settled already)."""
    batch = session.execute(select(Batches).where(Batches.c.id == batch_id).with_for_update()).first()
    if batch is None:
        raise NotFound("No such payment batch.")
    paid = []
    for item in batch_items(session, batch_id):
        if item.outcome != payouts.ITEM_PENDING:
            continue
        session.execute(update(Items).where(Items.c.batch_id == batch_id, Items.c.payout_id == item.payout_id)
                        .values(outcome=payouts.ITEM_PAID, settled_at=at))
        session.execute(update(Payouts).where(Payouts.c.id == item.payout_id)
                        .values(state=payouts.PAID, paid_at=at, failure_reason=None))
        pay(session, item.exchange_id, cause_id, at)
        paid.append(item.exchange_id)
    session.execute(update(Batches).where(Batches.c.id == batch_id, Batches.c.state == payouts.BATCH_OPEN)
                    .values(state=payouts.BATCH_SETTLED, settled_at=at))
    return paid


def mark_payout_failed(session: Session, payout_id: str, reason: str, cause_id: str, at: datetime) -> str:
    """The bank refused or returned this payout: it waits for a later batch, its money reserved
    again (the ledger records `fail` only if it had been marked paid). Returns the exchange."""
    payout = session.execute(select(Payouts).where(Payouts.c.id == payout_id).with_for_update()).first()
    if payout is None:
        raise NotFound("No such payout.")
    if payout.state == payouts.FAILED:
        return payout.exchange_id
    payouts.next_payout_state(payout.state, "mark_failed")
    # At most one item of a payout is pending or paid: earlier attempts ended failed.
    session.execute(update(Items).where(Items.c.payout_id == payout_id,
                                        Items.c.outcome.in_((payouts.ITEM_PENDING, payouts.ITEM_PAID)))
                    .values(outcome=payouts.ITEM_FAILED, failure_reason=reason, settled_at=at))
    session.execute(update(Payouts).where(Payouts.c.id == payout_id)
                    .values(state=payouts.FAILED, failed_at=at, failure_reason=reason))
    if funds_state(session, payout.exchange_id) == Funds.PAID:
        fail(session, payout.exchange_id, cause_id, at)
    return payout.exchange_id


def list_budgets(session: Session, partnership_id: str | None, page: int, per_page: int
                 ) -> tuple[list[Any], int]:
    """Budget rows by partnership id, one page; only `partnership_id`'s when given."""
    query = select(Budget)
    if partnership_id is not None:
        query = query.where(Budget.c.partnership_id == partnership_id)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(query.order_by(Budget.c.partnership_id)
                           .limit(per_page).offset((page - 1) * per_page)).all()
    return list(rows), int(total)


def budget_row(session: Session, partnership_id: str) -> Any:
    return session.execute(select(Budget).where(Budget.c.partnership_id == partnership_id)).first()


# --- claims, evidence, payouts: reading ---------------------------------------------------

def claim_for(session: Session, exchange_id: str, for_update: bool = False) -> models.Claim:
    query = select(models.Claim).where(models.Claim.exchange_id == exchange_id)
    if for_update:
        query = query.with_for_update()
    claim = session.scalars(query).first()
    if claim is None:
        raise NotFound("No payment claim for this exchange.")
    return claim


def evidence_of(session: Session, claim_id: str) -> list[models.EvidenceFile]:
    return list(session.scalars(select(models.EvidenceFile)
                                .where(models.EvidenceFile.claim_id == claim_id)
                                .order_by(models.EvidenceFile.uploaded_at, models.EvidenceFile.id)))


def add_evidence(session: Session, claim_id: str, *, key: str, sha256: str, size: int,
                 content_type: str, filename: str | None, uploaded_by: str,
                 at: datetime) -> models.EvidenceFile:
    """Records an uploaded file (its key is random: the same key again is the same file)."""
    existing = session.scalars(select(models.EvidenceFile).where(models.EvidenceFile.key == key)).first()
    if existing is not None:
        if existing.claim_id != claim_id:
            raise Conflict("That document belongs to another claim.")
        return existing
    evidence = models.EvidenceFile(claim_id=claim_id, key=key, sha256=sha256, size=size,
                                   content_type=content_type, filename=filename,
                                   uploaded_by=uploaded_by, uploaded_at=at)
    session.add(evidence)
    return evidence


def reserved_amount(session: Session, exchange_id: str) -> tuple[Funds, int]:
    row = session.execute(select(Funds_.c.state, Funds_.c.amount_cents)
                          .where(Funds_.c.exchange_id == exchange_id)).first()
    return (Funds(row.state), int(row.amount_cents)) if row else (Funds.NONE, 0)


def payout_of_exchange(session: Session, exchange_id: str) -> Any:
    return session.execute(select(Payouts).where(Payouts.c.exchange_id == exchange_id)).first()


def get_payout(session: Session, payout_id: str) -> Any:
    payout = session.execute(select(Payouts).where(Payouts.c.id == payout_id)).first()
    if payout is None:
        raise NotFound("No such payout.")
    return payout


def _page(session: Session, query: Any, order: Any, page: int, per_page: int) -> tuple[list[Any], int]:
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(query.order_by(*order).limit(per_page).offset((page - 1) * per_page)).all()
    return list(rows), int(total)


def list_claims(session: Session, *, account_id: str | None, partnership_id: str | None,
                state: str | None, page: int, per_page: int) -> tuple[list[Any], int]:
    """Claims one page at a time; only the visitor's (account) or a partnership's when given."""
    query = select(Claims)
    if account_id is not None:
        query = query.where(Claims.c.visitor_account_id == account_id)
    if partnership_id is not None:
        query = query.where(Claims.c.partnership_id == partnership_id)
    if state:
        query = query.where(Claims.c.state == state)
    return _page(session, query, (Claims.c.created_at, Claims.c.id), page, per_page)


def list_payouts(session: Session, *, account_id: str | None, partnership_id: str | None,
                 state: str | None, overdue_on: date | None, page: int,
                 per_page: int) -> tuple[list[Any], int]:
    """Payouts one page at a time; `overdue_on`: only those not paid and due before that day."""
    query = select(Payouts)
    if account_id is not None:
        query = query.where(Payouts.c.visitor_account_id == account_id)
    if partnership_id is not None:
        query = query.where(Payouts.c.partnership_id == partnership_id)
    if state:
        query = query.where(Payouts.c.state == state)
    if overdue_on is not None:
        query = query.where(Payouts.c.state != payouts.PAID, Payouts.c.due_on < overdue_on)
    return _page(session, query, (Payouts.c.due_on, Payouts.c.id), page, per_page)


def list_batches(session: Session, partnership_id: str | None, page: int,
                 per_page: int) -> tuple[list[Any], int]:
    query = select(Batches)
    if partnership_id is not None:
        query = query.where(Batches.c.partnership_id == partnership_id)
    return _page(session, query, (Batches.c.created_at.desc(), Batches.c.id), page, per_page)


def pending_items(session: Session, batch_id: str) -> list[Any]:
    return [item for item in batch_items(session, batch_id) if item.outcome == payouts.ITEM_PENDING]


# --- the partnership's own bank account (the SEPA debtor) -----------------------------------

def debtor_account(session: Session, partnership_id: str) -> models.DebtorAccount | None:
    return session.get(models.DebtorAccount, partnership_id)


def save_debtor_account(session: Session, partnership_id: str, *, name: str, iban: str,
                        bic: str | None, updated_by: str, at: datetime) -> models.DebtorAccount:
    account = session.get(models.DebtorAccount, partnership_id, with_for_update=True)
    if account is None:
        account = models.DebtorAccount(partnership_id=partnership_id)
        session.add(account)
    account.name, account.iban, account.bic = name, iban, bic
    account.updated_by, account.updated_at = updated_by, at
    return account


def remove_evidence(session: Session, claim_id: str, evidence_id: str) -> bool:
    table = models.EvidenceFile.__table__
    return session.execute(table.delete().where(table.c.id == evidence_id,
                                                table.c.claim_id == claim_id)).rowcount == 1


# --- statistics -----------------------------------------------------------------------------

def _ledger_day(session: Session) -> Any:
    """The UTC day of a ledger entry, as the database computes it."""
    if is_postgres(session):
        return cast(func.timezone("UTC", Ledger.c.at), Date)
    return func.date(Ledger.c.at)  # SQLite converts a stored offset to UTC itself


def _delta(term: int) -> Any:
    """SUM of one balance term's signed amounts (budget 0, reserved 1, paid 2), as
    `ledger.effect` applies them."""
    whens = [(Ledger.c.kind == kind.value, Ledger.c.amount_cents * signs[term])
             for kind, signs in LEDGER_EFFECTS.items() if signs[term]]
    return func.coalesce(func.sum(case(*whens, else_=0)), 0)


def ledger_opening(session: Session, partnership_id: str, before: datetime) -> Balance:
    """The balance just before `before`: one aggregate over the earlier entries."""
    row = session.execute(select(_delta(0), _delta(1), _delta(2))
                          .where(Ledger.c.partnership_id == partnership_id, Ledger.c.at < before)).one()
    return Balance(int(row[0]), int(row[1]), int(row[2]))


def ledger_daily_movements(session: Session, partnership_id: str, since: datetime,
                           until: datetime) -> list[Movement]:
    """The net change of budget, reserved and paid on each day with entries in
    [since, until): GROUP BY day in the database, one row a day (the index on
    (partnership_id, at) keeps it a range scan)."""
    day = _ledger_day(session).label("day")
    rows = session.execute(
        select(day, _delta(0), _delta(1), _delta(2))
        .where(Ledger.c.partnership_id == partnership_id, Ledger.c.at >= since, Ledger.c.at < until)
        .group_by(day).order_by(day))
    return [Movement(row[0] if isinstance(row[0], date) else date.fromisoformat(str(row[0])),
                     int(row[1]), int(row[2]), int(row[3])) for row in rows]


def first_ledger_day(session: Session, partnership_id: str) -> datetime | None:
    return session.execute(select(func.min(Ledger.c.at))
                           .where(Ledger.c.partnership_id == partnership_id)).scalar()


def budget_totals(session: Session, partnership_id: str | None) -> list[Any]:
    """Every budget row (or one partnership's) with its exchanges per state of their lump
    sum: one GROUP BY over exchange_funds joined to the running totals."""
    per_state = (select(Funds_.c.partnership_id,
                        *[func.sum(case((Funds_.c.state == state.value, 1), else_=0)).label(state.value)
                          for state in (Funds.RESERVED, Funds.PAID, Funds.RELEASED)])
                 .group_by(Funds_.c.partnership_id).subquery())
    query = (select(Budget, *[func.coalesce(per_state.c[state.value], 0).label(f"{state.value}_exchanges")
                              for state in (Funds.RESERVED, Funds.PAID, Funds.RELEASED)])
             .outerjoin(per_state, per_state.c.partnership_id == Budget.c.partnership_id)
             .order_by(Budget.c.partnership_id))
    if partnership_id is not None:
        query = query.where(Budget.c.partnership_id == partnership_id)
    return list(session.execute(query))
