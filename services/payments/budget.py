"""Budget envelopes: the rules for each money movement, as pure functions over the ledger.

Each operation takes the entries so far and returns the entries to append: none when the
same cause was already recorded (idempotent), one otherwise, or raises when the rules
refuse. Nothing here changes an existing entry. The SQL side (`repository`) applies the same
rules with conditional updates, so that concurrent requests cannot overspend.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from services.payments.exceptions import (
    BudgetBelowCommitments,
    FundsNotInState,
    InsufficientBudget,
    NoBudget,
)
from services.payments.ledger import Funds, Kind, LedgerEntry, balance, entry_key, funds_of, has_cause
from services.payments.money import ensure_cents

Entries = Sequence[LedgerEntry]


def _has_budget(entries: Entries, partnership_id: str) -> bool:
    return any(e.partnership_id == partnership_id and e.kind == Kind.BUDGET_SET for e in entries)


def set_budget(entries: Entries, partnership_id: str, budget_cents: int, cause_id: str,
               at: datetime) -> list[LedgerEntry]:
    """Sets the envelope to `budget_cents`; never below what is already reserved or paid."""
    ensure_cents(budget_cents, "budget_cents")
    if has_cause(entries, entry_key(Kind.BUDGET_SET, None, cause_id)):
        return []
    if not _has_budget(entries, partnership_id):
        return [LedgerEntry(partnership_id, Kind.BUDGET_SET, budget_cents, cause_id, at)]
    current = balance(entries, partnership_id)
    committed = current.reserved_cents + current.paid_cents
    if budget_cents < committed:
        raise BudgetBelowCommitments.for_amounts(budget_cents, committed)
    change = budget_cents - current.budget_cents
    if change == 0:
        return []
    return [LedgerEntry(partnership_id, Kind.BUDGET_CHANGE, change, cause_id, at)]


def reserve(entries: Entries, partnership_id: str, exchange_id: str, amount_cents: int, cause_id: str,
            at: datetime) -> list[LedgerEntry]:
    """Sets an exchange's lump sum aside; refused when it does not fit what is available."""
    ensure_cents(amount_cents, "amount_cents", positive=True)
    if has_cause(entries, entry_key(Kind.RESERVE, exchange_id, cause_id)):
        return []
    if not _has_budget(entries, partnership_id):
        raise NoBudget.for_partnership(partnership_id)
    state, _, _ = funds_of(entries, exchange_id)
    if state != Funds.NONE:
        raise FundsNotInState.for_exchange(exchange_id, "reserve", "not yet reserved", state.value)
    available = balance(entries, partnership_id).available_cents
    if amount_cents > available:
        raise InsufficientBudget.for_amounts(partnership_id, available, amount_cents)
    return [LedgerEntry(partnership_id, Kind.RESERVE, amount_cents, cause_id, at, exchange_id)]


def _move(entries: Entries, exchange_id: str, kind: Kind, action: str, needed: Funds, cause_id: str,
          at: datetime) -> list[LedgerEntry]:
    if has_cause(entries, entry_key(kind, exchange_id, cause_id)):
        return []
    state, amount, partnership_id = funds_of(entries, exchange_id)
    if state != needed or partnership_id is None:
        raise FundsNotInState.for_exchange(exchange_id, action, needed.value, state.value)
    return [LedgerEntry(partnership_id, kind, amount, cause_id, at, exchange_id)]


def release(entries: Entries, exchange_id: str, cause_id: str, at: datetime) -> list[LedgerEntry]:
    """Gives back exactly what is reserved for this exchange (a cancelled exchange)."""
    return _move(entries, exchange_id, Kind.RELEASE, "release", Funds.RESERVED, cause_id, at)


def pay(entries: Entries, exchange_id: str, cause_id: str, at: datetime) -> list[LedgerEntry]:
    """The payout went out: the exchange's reservation becomes paid."""
    return _move(entries, exchange_id, Kind.PAY, "pay", Funds.RESERVED, cause_id, at)


def fail(entries: Entries, exchange_id: str, cause_id: str, at: datetime) -> list[LedgerEntry]:
    """The bank returned the payout: the money is reserved again, ready for a later batch."""
    return _move(entries, exchange_id, Kind.FAIL, "mark failed", Funds.PAID, cause_id, at)
