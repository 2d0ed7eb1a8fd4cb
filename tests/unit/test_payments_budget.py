"""Budget envelopes over the append-only ledger: rules, idempotency and invariants."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from common.errors import Conflict, ValidationFailed
from services.payments import budget
from services.payments.exceptions import (
    BudgetBelowCommitments,
    FundsNotInState,
    InsufficientBudget,
    NoBudget,
)
from services.payments.ledger import Funds, Kind, balance, funds_of

AT = datetime(2026, 11, 25, tzinfo=UTC)
P = "partnership-1"


def run(entries, operation, *args):
    new = operation(entries, *args, AT)
    return entries + new, new


def funded(cents=100_000):
    return budget.set_budget([], P, cents, "req-budget", AT)


def test_reserve_fits_then_is_refused_naming_available_and_needed():
    entries = funded(100_000)
    entries, _ = run(entries, budget.reserve, P, "x1", 78_000, "evt-1")
    with pytest.raises(InsufficientBudget) as raised:
        budget.reserve(entries, P, "x2", 39_000, "evt-2", AT)
    assert isinstance(raised.value, Conflict)
    assert raised.value.detail == "The partnership's available budget is €220.00; this needs €390.00."
    assert raised.value.errors["available_cents"] == 22_000 and raised.value.errors["needed_cents"] == 39_000


def test_balances_follow_reserve_pay_fail_and_release():
    entries = funded(100_000)
    entries, _ = run(entries, budget.reserve, P, "x1", 78_000, "evt-1")
    assert balance(entries, P).available_cents == 22_000
    entries, _ = run(entries, budget.pay, "x1", "req-paid")
    assert (balance(entries, P).reserved_cents, balance(entries, P).paid_cents) == (0, 78_000)
    entries, _ = run(entries, budget.fail, "x1", "req-failed")
    assert (balance(entries, P).reserved_cents, balance(entries, P).paid_cents) == (78_000, 0)
    assert funds_of(entries, "x1")[0] == Funds.RESERVED  # can be paid again in a later batch
    entries, _ = run(entries, budget.release, "x1", "evt-cancelled")
    assert balance(entries, P) == balance(funded(100_000), P)


def test_the_same_cause_twice_is_one_entry():
    entries = funded()
    entries, first = run(entries, budget.reserve, P, "x1", 39_000, "evt-1")
    entries, second = run(entries, budget.reserve, P, "x1", 39_000, "evt-1")
    assert len(first) == 1 and second == []
    assert budget.set_budget(entries, P, 5, "req-budget", AT) == []
    entries, _ = run(entries, budget.release, "x1", "evt-2")
    assert budget.release(entries, "x1", "evt-2", AT) == []


def test_one_request_may_pay_several_exchanges():
    entries = funded()
    entries, _ = run(entries, budget.reserve, P, "x1", 39_000, "evt-1")
    entries, _ = run(entries, budget.reserve, P, "x2", 39_000, "evt-2")
    entries, paid1 = run(entries, budget.pay, "x1", "req-batch")
    entries, paid2 = run(entries, budget.pay, "x2", "req-batch")
    assert len(paid1) == len(paid2) == 1
    assert balance(entries, P).paid_cents == 78_000


def test_release_gives_back_only_what_that_exchange_reserved():
    entries = funded()
    entries, _ = run(entries, budget.reserve, P, "x1", 39_000, "evt-1")
    entries, _ = run(entries, budget.reserve, P, "x2", 20_000, "evt-2")
    entries, released = run(entries, budget.release, "x2", "evt-3")
    assert released[0].amount_cents == 20_000
    assert balance(entries, P).reserved_cents == 39_000


@pytest.mark.parametrize("operation", [budget.release, budget.pay, budget.fail])
def test_moving_money_an_exchange_does_not_hold_is_refused(operation):
    with pytest.raises(FundsNotInState):
        operation(funded(), "never-reserved", "evt-9", AT)


def test_a_released_exchange_cannot_be_paid_or_reserved_again():
    entries = funded()
    entries, _ = run(entries, budget.reserve, P, "x1", 39_000, "evt-1")
    entries, _ = run(entries, budget.release, "x1", "evt-2")
    with pytest.raises(FundsNotInState):
        budget.pay(entries, "x1", "req-3", AT)
    with pytest.raises(FundsNotInState):
        budget.reserve(entries, P, "x1", 39_000, "evt-4", AT)


def test_an_exchange_is_reserved_once():
    entries = funded()
    entries, _ = run(entries, budget.reserve, P, "x1", 39_000, "evt-1")
    with pytest.raises(FundsNotInState):
        budget.reserve(entries, P, "x1", 39_000, "evt-other", AT)


def test_reserving_without_a_budget_is_refused():
    with pytest.raises(NoBudget):
        budget.reserve([], P, "x1", 100, "evt-1", AT)


def test_budget_cannot_drop_below_what_is_reserved_or_paid():
    entries = funded(100_000)
    entries, _ = run(entries, budget.reserve, P, "x1", 78_000, "evt-1")
    with pytest.raises(BudgetBelowCommitments):
        budget.set_budget(entries, P, 77_999, "req-2", AT)
    entries, changed = run(entries, budget.set_budget, P, 78_000, "req-3")
    assert changed[0].kind == Kind.BUDGET_CHANGE and changed[0].amount_cents == -22_000
    assert balance(entries, P).available_cents == 0


@pytest.mark.parametrize("bad", [0, -5, 10.5, "100"])
def test_reserved_amounts_are_positive_whole_cents(bad):
    with pytest.raises(ValidationFailed):
        budget.reserve(funded(), P, "x1", bad, "evt-1", AT)


EXCHANGES = [f"x{i}" for i in range(6)]
causes = st.text(alphabet="abc", min_size=1, max_size=2)  # small: the same cause comes back often


class BudgetLedgerMachine(RuleBasedStateMachine):
    """Random sequences of budget operations against a plain model of each exchange."""

    def __init__(self) -> None:
        super().__init__()
        self.entries: list = []
        self.snapshot: tuple = ()
        self.model: dict[str, tuple[str, int]] = {}  # exchange → (state, amount)
        self.model_budget: int | None = None

    def apply(self, operation, *args) -> None:
        try:
            new = operation(self.entries, *args, AT)
        except (Conflict, ValidationFailed):
            return
        self.entries = self.entries + new

    @rule(cents=st.integers(0, 300_000), cause=causes)
    def set_budget(self, cents, cause):
        self.apply(budget.set_budget, P, cents, cause)

    @rule(exchange=st.sampled_from(EXCHANGES), cents=st.integers(1, 110_000), cause=causes)
    def reserve(self, exchange, cents, cause):
        before = balance(self.entries, P)
        state_before = funds_of(self.entries, exchange)[0]
        count = len(self.entries)
        self.apply(budget.reserve, P, exchange, cents, cause)
        if len(self.entries) > count:
            assert state_before == Funds.NONE and cents <= before.available_cents

    @rule(exchange=st.sampled_from(EXCHANGES), cause=causes)
    def release(self, exchange, cause):
        self.apply(budget.release, exchange, cause)

    @rule(exchange=st.sampled_from(EXCHANGES), cause=causes)
    def pay(self, exchange, cause):
        self.apply(budget.pay, exchange, cause)

    @rule(exchange=st.sampled_from(EXCHANGES), cause=causes)
    def fail(self, exchange, cause):
        self.apply(budget.fail, exchange, cause)

    @precondition(lambda self: self.entries)
    @rule(data=st.data())
    def replaying_a_recorded_cause_adds_nothing(self, data):
        entry = data.draw(st.sampled_from(self.entries))
        again = {
            Kind.BUDGET_SET: lambda: budget.set_budget(self.entries, P, 1, entry.cause_id, AT),
            Kind.BUDGET_CHANGE: lambda: budget.set_budget(self.entries, P, 1, entry.cause_id, AT),
            Kind.RESERVE: lambda: budget.reserve(self.entries, P, entry.exchange_id, 1, entry.cause_id, AT),
            Kind.RELEASE: lambda: budget.release(self.entries, entry.exchange_id, entry.cause_id, AT),
            Kind.PAY: lambda: budget.pay(self.entries, entry.exchange_id, entry.cause_id, AT),
            Kind.FAIL: lambda: budget.fail(self.entries, entry.exchange_id, entry.cause_id, AT),
        }[entry.kind]
        assert again() == []

    @invariant()
    def entries_are_only_ever_appended(self):
        assert tuple(self.entries[: len(self.snapshot)]) == self.snapshot
        self.snapshot = tuple(self.entries)

    @invariant()
    def available_plus_reserved_plus_paid_is_the_budget_and_nothing_is_negative(self):
        b = balance(self.entries, P)
        assert b.available_cents + b.reserved_cents + b.paid_cents == b.budget_cents
        assert b.available_cents >= 0 and b.reserved_cents >= 0 and b.paid_cents >= 0

    @invariant()
    def each_exchange_holds_what_its_state_says(self):
        reserved = paid = 0
        for exchange in EXCHANGES:
            state, amount, _ = funds_of(self.entries, exchange)
            reserved += amount if state == Funds.RESERVED else 0
            paid += amount if state == Funds.PAID else 0
        b = balance(self.entries, P)
        assert (b.reserved_cents, b.paid_cents) == (reserved, paid)

    @invariant()
    def causes_are_unique(self):
        keys = [entry.key for entry in self.entries]
        assert len(keys) == len(set(keys))


BudgetLedgerMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=40, deadline=None,
                                                      database=None)
test_random_operation_sequences_keep_the_ledger_sound = BudgetLedgerMachine.TestCase
