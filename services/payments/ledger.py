"""The append-only ledger of a partnership's money and the balances computed from it.

Every movement is one entry; nothing is ever changed or deleted. Balances are sums:

    budget    = budget_set + Σ budget_change
    reserved  = Σ reserve − Σ release − Σ pay + Σ fail
    paid      = Σ pay − Σ fail
    available = budget − reserved − paid

so `available + reserved + paid == budget` holds by construction; the rules in
`services.payments.budget` keep each term (and each exchange's share) from going negative.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Kind(StrEnum):
    BUDGET_SET = "budget_set"        # the first budget of a partnership (amount: the budget)
    BUDGET_CHANGE = "budget_change"  # a later change (amount: signed difference)
    RESERVE = "reserve"              # a signed financial agreement sets its lump sum aside
    RELEASE = "release"              # a cancelled exchange gives its reservation back
    PAY = "pay"                      # a payout went out: the reservation is consumed
    FAIL = "fail"                    # the bank returned it: back to reserved, to be retried


class Funds(StrEnum):
    """Where one exchange's lump sum stands."""

    NONE = "none"
    RESERVED = "reserved"
    RELEASED = "released"
    PAID = "paid"


@dataclass(frozen=True)
class LedgerEntry:
    partnership_id: str
    kind: Kind
    amount_cents: int
    # The event id or request id that caused the movement: the same cause twice is one entry.
    cause_id: str
    at: datetime
    exchange_id: str | None = None

    @property
    def key(self) -> str:
        return entry_key(self.kind, self.exchange_id, self.cause_id)


def entry_key(kind: Kind, exchange_id: str | None, cause_id: str) -> str:
    """What makes a movement unique. A budget is set or changed by one cause once (whichever
    kind it took); one request may pay many exchanges, hence the exchange in the key."""
    operation = "budget" if kind in (Kind.BUDGET_SET, Kind.BUDGET_CHANGE) else kind.value
    return f"{operation}:{exchange_id or '-'}:{cause_id}"


@dataclass(frozen=True)
class Balance:
    budget_cents: int = 0
    reserved_cents: int = 0
    paid_cents: int = 0

    @property
    def available_cents(self) -> int:
        return self.budget_cents - self.reserved_cents - self.paid_cents


_EFFECT = {  # kind → (budget, reserved, paid) signs applied to the amount
    Kind.BUDGET_SET: (1, 0, 0),
    Kind.BUDGET_CHANGE: (1, 0, 0),
    Kind.RESERVE: (0, 1, 0),
    Kind.RELEASE: (0, -1, 0),
    Kind.PAY: (0, -1, 1),
    Kind.FAIL: (0, 1, -1),
}


# The repository builds its SQL sums from the same table.
EFFECTS = _EFFECT


def effect(kind: Kind, amount_cents: int) -> tuple[int, int, int]:
    """How an entry moves (budget, reserved, paid): the same deltas the SQL side applies."""
    budget, reserved, paid = _EFFECT[kind]
    return budget * amount_cents, reserved * amount_cents, paid * amount_cents


def balance(entries: Iterable[LedgerEntry], partnership_id: str) -> Balance:
    budget = reserved = paid = 0
    for entry in entries:
        if entry.partnership_id == partnership_id:
            db, dr, dp = effect(entry.kind, entry.amount_cents)
            budget, reserved, paid = budget + db, reserved + dr, paid + dp
    return Balance(budget, reserved, paid)


_NEXT_FUNDS = {Kind.RESERVE: Funds.RESERVED, Kind.RELEASE: Funds.RELEASED, Kind.PAY: Funds.PAID,
               Kind.FAIL: Funds.RESERVED}


def funds_of(entries: Iterable[LedgerEntry], exchange_id: str) -> tuple[Funds, int, str | None]:
    """(state, amount, partnership) of one exchange's lump sum, replayed from its entries."""
    state, amount, partnership = Funds.NONE, 0, None
    for entry in entries:
        if entry.exchange_id == exchange_id and entry.kind in _NEXT_FUNDS:
            state, amount, partnership = _NEXT_FUNDS[entry.kind], entry.amount_cents, entry.partnership_id
    return state, amount, partnership


def has_cause(entries: Iterable[LedgerEntry], key: str) -> bool:
    return any(entry.key == key for entry in entries)
