"""The payments tables on a real PostgreSQL (and on SQLite, the local default): money
movements under concurrency, idempotency by cause, and the append-only ledger."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime

import psycopg2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from common.errors import Conflict, InvalidState, ValidationFailed
from services.payments import repository
from services.payments.exceptions import (
    BudgetBelowCommitments,
    FundsNotInState,
    InsufficientBudget,
    NoBudget,
)
from services.payments.ledger import Funds, Kind, funds_of
from services.payments.lump_sums import LumpSumTable, shipped_table
from services.payments.models import Base, Payout
from services.payments.sepa import (
    CreditTransfer,
    DebtorAccount,
    build_credit_transfer_file,
    remittance_for,
    validate_pain001,
)
from tests.fixtures import PG_ADMIN_DSN, _admin

AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
P = "11111111-1111-1111-1111-111111111111"


@pytest.fixture(scope="module")
def pg_engine() -> Iterator[Engine]:
    name = f"cxc_test_payments_{secrets.token_hex(4)}"
    _admin(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg2://", 1)
    # The shared server allows 100 connections in all: 200 reservations share at most 25.
    engine = create_engine(f"{base}/{name}", pool_size=25, max_overflow=0, pool_timeout=120)
    try:
        Base.metadata.create_all(engine)
        yield engine
    finally:
        engine.dispose()
        _admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
        _admin(f'DROP DATABASE IF EXISTS "{name}"')


@pytest.fixture
def pg(pg_engine: Engine) -> Iterator[Engine]:
    yield pg_engine
    with pg_engine.begin() as conn:
        conn.execute(text("TRUNCATE " + ", ".join(Base.metadata.tables)))


@pytest.fixture
def sqlite(tmp_path) -> Iterator[Engine]:
    from common.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'payments.db'}")
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["pg", "sqlite"])
def engine(request) -> Engine:
    return request.getfixturevalue(request.param)


def in_tx(engine: Engine, operation, *args):
    with Session(engine) as session, session.begin():
        return operation(session, *args)


def assert_totals_match_ledger(engine: Engine, partnership_id: str = P) -> None:
    with Session(engine) as session:
        totals = repository.balance(session, partnership_id)
        assert totals == repository.ledger_balance(session, partnership_id)
        assert totals.available_cents >= 0 and totals.reserved_cents >= 0 and totals.paid_cents >= 0


def test_200_concurrent_reservations_against_a_budget_for_100_exactly_100_succeed(pg):
    amount = 39_000
    in_tx(pg, repository.set_budget, P, 100 * amount, "req-budget", AT)
    start = threading.Barrier(200)
    outcomes: list[str] = []

    def sign(i: int) -> None:
        start.wait()
        try:
            in_tx(pg, repository.reserve, P, f"exchange-{i}", amount, f"event-{i}", AT)
            outcomes.append("reserved")
        except InsufficientBudget:
            outcomes.append("refused")

    threads = [threading.Thread(target=sign, args=(i,)) for i in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("reserved") == 100 and outcomes.count("refused") == 100
    with Session(pg) as session:
        totals = repository.balance(session, P)
        assert (totals.available_cents, totals.reserved_cents) == (0, 100 * amount)
        reserve_entries = [e for e in repository.ledger_entries(session, P) if e.kind == Kind.RESERVE]
        assert len(reserve_entries) == 100
    assert_totals_match_ledger(pg)


def test_two_parallel_agreements_that_together_exceed_the_budget_exactly_one_succeeds(pg):
    in_tx(pg, repository.set_budget, P, 100_000, "req-budget", AT)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def sign(exchange: str) -> None:
        start.wait()
        try:
            in_tx(pg, repository.reserve, P, exchange, 78_000, f"evt-{exchange}", AT)
            outcomes.append("reserved")
        except InsufficientBudget:
            outcomes.append("refused")

    threads = [threading.Thread(target=sign, args=(x,)) for x in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused", "reserved"]


def test_the_same_event_delivered_concurrently_reserves_once(pg):
    in_tx(pg, repository.set_budget, P, 100_000, "req-budget", AT)
    start = threading.Barrier(10)
    results: list = []

    def deliver() -> None:
        start.wait()
        results.append(in_tx(pg, repository.reserve, P, "x1", 39_000, "evt-same", AT))

    threads = [threading.Thread(target=deliver) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(result is not None for result in results) == 1
    with Session(pg) as session:
        assert repository.balance(session, P).reserved_cents == 39_000


def test_reserve_release_pay_fail_keep_totals_equal_to_the_ledger(engine):
    in_tx(engine, repository.set_budget, P, 100_000, "req-budget", AT)
    in_tx(engine, repository.reserve, P, "x1", 39_000, "evt-1", AT)
    in_tx(engine, repository.reserve, P, "x2", 39_000, "evt-2", AT)
    with pytest.raises(InsufficientBudget) as raised:
        in_tx(engine, repository.reserve, P, "x3", 39_000, "evt-3", AT)
    assert "€220.00" in raised.value.detail and "€390.00" in raised.value.detail
    in_tx(engine, repository.release, "x2", "evt-cancel-2", AT)
    in_tx(engine, repository.pay, "x1", "req-batch-paid", AT)
    in_tx(engine, repository.fail, "x1", "req-returned", AT)
    in_tx(engine, repository.pay, "x1", "req-batch-2-paid", AT)
    with Session(engine) as session:
        assert repository.balance(session, P).paid_cents == 39_000
        assert repository.funds_state(session, "x1") == Funds.PAID
        assert repository.funds_state(session, "x2") == Funds.RELEASED
        assert [e.kind for e in repository.ledger_entries(session, P)] == [
            "budget_set", "reserve", "reserve", "release", "pay", "fail", "pay"]
        assert repository.budget_kpis(session, P) == {
            "reserved": {"exchanges": 0, "amount_cents": 0},
            "paid": {"exchanges": 1, "amount_cents": 39_000},
            "released": {"exchanges": 1, "amount_cents": 39_000}}
    assert_totals_match_ledger(engine)


def test_each_movement_is_idempotent_by_its_cause(engine):
    assert in_tx(engine, repository.set_budget, P, 100_000, "req-budget", AT) is not None
    assert in_tx(engine, repository.set_budget, P, 100_000, "req-budget", AT) is None
    assert in_tx(engine, repository.reserve, P, "x1", 39_000, "evt-1", AT) is not None
    assert in_tx(engine, repository.reserve, P, "x1", 39_000, "evt-1", AT) is None
    assert in_tx(engine, repository.release, "x1", "evt-2", AT) is not None
    assert in_tx(engine, repository.release, "x1", "evt-2", AT) is None
    with Session(engine) as session:
        assert len(repository.ledger_entries(session, P)) == 3
    assert_totals_match_ledger(engine)


def test_movements_the_funds_do_not_allow_are_refused(engine):
    with pytest.raises(NoBudget):
        in_tx(engine, repository.reserve, P, "x1", 39_000, "evt-1", AT)
    in_tx(engine, repository.set_budget, P, 100_000, "req-budget", AT)
    with pytest.raises(FundsNotInState):
        in_tx(engine, repository.release, "x1", "evt-2", AT)
    in_tx(engine, repository.reserve, P, "x1", 39_000, "evt-1", AT)
    with pytest.raises(FundsNotInState):
        in_tx(engine, repository.reserve, P, "x1", 39_000, "evt-other", AT)
    with pytest.raises(FundsNotInState):
        in_tx(engine, repository.fail, "x1", "req-3", AT)
    assert_totals_match_ledger(engine)


def test_budget_cannot_drop_below_commitments(engine):
    in_tx(engine, repository.set_budget, P, 100_000, "req-1", AT)
    in_tx(engine, repository.reserve, P, "x1", 78_000, "evt-1", AT)
    with pytest.raises(BudgetBelowCommitments):
        in_tx(engine, repository.set_budget, P, 50_000, "req-2", AT)
    entry = in_tx(engine, repository.set_budget, P, 200_000, "req-3", AT)
    assert (entry.kind, entry.amount_cents) == (Kind.BUDGET_CHANGE, 100_000)
    assert_totals_match_ledger(engine)


def test_ledger_entries_cannot_be_changed_or_deleted(engine):
    in_tx(engine, repository.set_budget, P, 100_000, "req-1", AT)
    for statement in ("UPDATE ledger_entries SET amount_cents = 1", "DELETE FROM ledger_entries"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text(statement))
    with Session(engine) as session:
        assert repository.ledger_entries(session, P)[0].amount_cents == 100_000


def test_the_database_refuses_an_overspent_budget_row(engine):
    in_tx(engine, repository.set_budget, P, 100, "req-1", AT)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE budgets SET reserved_cents = 101"))


def test_lump_sum_rates_seed_once_and_changes_are_recorded(engine):
    assert in_tx(engine, repository.seed_rates, shipped_table()) == 1
    assert in_tx(engine, repository.seed_rates, shipped_table()) == 0
    with Session(engine) as session, session.begin():
        repository.lock_rates(session, "PT")
        table = repository.load_table(session, 110_000)
        assert table.rate_on("PT", date(2026, 1, 1)).amount_cents == 78_000
        changed, change = table.with_rate("PT", 80_000, date(2027, 1, 1), "acc-admin", AT, "new call")
        repository.save_rate_change(session, changed, change)
    with Session(engine) as session:
        table: LumpSumTable = repository.load_table(session, 110_000)
        assert table.rate_on("PT", date(2026, 12, 31)).amount_cents == 78_000
        assert table.rate_on("PT", date(2027, 1, 1)).amount_cents == 80_000
        [recorded] = repository.rate_changes(session, "PT")
        assert (recorded.old_amount_cents, recorded.new_amount_cents, recorded.changed_by) == (
            78_000, 80_000, "acc-admin")


def test_postgresql_is_reachable():
    psycopg2.connect(PG_ADMIN_DSN).close()


operation = st.tuples(st.sampled_from(["reserve", "release", "pay", "fail", "budget"]),
                      st.integers(0, 7),                 # which exchange
                      st.integers(1, 60_000),            # amount (reserve) or budget / 2
                      st.sampled_from(["a", "b", "c"]))  # cause: repeats often, as redeliveries do
rounds = st.lists(st.lists(operation, min_size=1, max_size=12), min_size=1, max_size=5)


def _run(engine: Engine, op: tuple, unexpected: list) -> None:
    kind, exchange, amount, cause = op
    calls = {
        "reserve": lambda s: repository.reserve(s, P, f"x{exchange}", amount, f"{cause}-{exchange}", AT),
        "release": lambda s: repository.release(s, f"x{exchange}", cause, AT),
        "pay": lambda s: repository.pay(s, f"x{exchange}", cause, AT),
        "fail": lambda s: repository.fail(s, f"x{exchange}", cause, AT),
        "budget": lambda s: repository.set_budget(s, P, amount * 2, f"budget-{cause}-{amount}", AT),
    }
    try:
        in_tx(engine, calls[kind])
    except (Conflict, ValidationFailed):
        pass
    except Exception as exc:  # a database refusal means the code let something through
        unexpected.append(exc)


@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rounds=rounds)
def test_random_concurrent_operations_keep_the_ledger_sound(pg_engine, rounds):
    with pg_engine.begin() as conn:
        conn.execute(text("TRUNCATE " + ", ".join(Base.metadata.tables)))
    in_tx(pg_engine, repository.set_budget, P, 150_000, "initial", AT)
    seen: dict[int, tuple] = {}
    unexpected: list = []
    for ops in rounds:
        threads = [threading.Thread(target=_run, args=(pg_engine, op, unexpected)) for op in ops]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with pg_engine.connect() as conn:
            rows = {row.id: tuple(row) for row in conn.execute(text("SELECT * FROM ledger_entries"))}
            funds = {row.exchange_id: (row.state, row.amount_cents) for row in conn.execute(
                text("SELECT exchange_id, state, amount_cents FROM exchange_funds"))}
        assert unexpected == []
        # Append-only: every entry seen before is still there, unchanged.
        assert all(rows.get(entry_id) == row for entry_id, row in seen.items())
        seen = rows
        assert_totals_match_ledger(pg_engine)
        with Session(pg_engine) as session:
            entries = repository.ledger_entries(session, P)
        assert len({e.key for e in entries}) == len(entries)
        for exchange, (state, _) in funds.items():
            assert funds_of(entries, exchange)[0].value == state
        with Session(pg_engine) as session:
            totals = repository.balance(session, P)
        # Each exchange holds exactly what its state says: the totals are their sums.
        assert totals.reserved_cents == sum(a for state, a in funds.values() if state == "reserved")
        assert totals.paid_cents == sum(a for state, a in funds.values() if state == "paid")


def approve(engine: Engine, exchange: str, amount: int = 39_000):
    reference = f"CXC-2026-{exchange[-6:]:0>6}"
    with Session(engine) as session, session.begin():
        claim_id, _ = repository.open_claim(session, exchange_id=exchange, exchange_reference=reference,
                                            partnership_id=P, visitor_account_id="acc-v", at=AT)
    with Session(engine) as session, session.begin():
        return repository.create_payout(
            session, claim_id=claim_id, exchange_id=exchange, exchange_reference=reference, partnership_id=P,
            visitor_account_id="acc-v", amount_cents=amount, approved_by="acc-cp", approved_at=AT)


def test_a_redelivered_closing_report_opens_one_claim(engine):
    opened = [in_tx(engine, lambda s: repository.open_claim(
        s, exchange_id="x1", exchange_reference="CXC-2026-000001", partnership_id=P,
        visitor_account_id="acc-v", at=AT)) for _ in range(2)]
    assert opened[0][0] == opened[1][0] and [created for _, created in opened] == [True, False]


def test_approving_twice_makes_one_payout_due_ten_days_later(engine):
    first_id, created = approve(engine, "x1")
    again_id, created_again = approve(engine, "x1")
    assert created and not created_again and first_id == again_id
    with Session(engine) as session:
        assert session.execute(select(Payout.due_on)).scalars().all() == [date(2026, 12, 5)]


def test_concurrent_approvals_of_the_same_exchange_make_one_payout(pg):
    start = threading.Barrier(8)
    results: list = []

    def approve_once() -> None:
        start.wait()
        results.append(approve(pg, "x1"))

    threads = [threading.Thread(target=approve_once) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(created for _, created in results) == 1
    assert len({payout_id for payout_id, _ in results}) == 1


def test_batch_paid_then_one_returned_then_retried(engine):
    in_tx(engine, repository.set_budget, P, 100_000, "req-budget", AT)
    for exchange in ("x000001", "x000002"):
        in_tx(engine, repository.reserve, P, exchange, 39_000, f"evt-{exchange}", AT)
        approve(engine, exchange)
    batch = in_tx(engine, repository.create_batch, P, "acc-cp", AT, date(2026, 12, 1))
    with Session(engine) as session:
        items = repository.batch_items(session, batch)
        assert [item.end_to_end_id for item in items] == ["CXC-2026-000001", "CXC-2026-000002"]
    with pytest.raises(InvalidState):  # nothing left to batch
        in_tx(engine, repository.create_batch, P, "acc-cp", AT, date(2026, 12, 1))
    assert sorted(in_tx(engine, repository.mark_batch_paid, batch, "req-paid", AT)) == ["x000001", "x000002"]
    assert in_tx(engine, repository.mark_batch_paid, batch, "req-paid", AT) == []
    with Session(engine) as session:
        assert repository.balance(session, P).paid_cents == 78_000
    returned = items[1].payout_id
    exchange = in_tx(engine, repository.mark_payout_failed, returned, "account closed", "req-returned", AT)
    assert exchange == "x000002"
    with Session(engine) as session:
        assert repository.balance(session, P).paid_cents == 39_000
        assert repository.funds_state(session, "x000002") == Funds.RESERVED
    retry = in_tx(engine, repository.create_batch, P, "acc-cp", AT, date(2026, 12, 8))
    with Session(engine) as session:
        assert [item.payout_id for item in repository.batch_items(session, retry)] == [returned]
    assert in_tx(engine, repository.mark_batch_paid, retry, "req-paid-2", AT) == ["x000002"]
    with Session(engine) as session:
        assert repository.balance(session, P).paid_cents == 78_000
    assert_totals_match_ledger(engine)


def test_a_payout_failed_before_the_batch_is_paid_stays_reserved(engine):
    in_tx(engine, repository.set_budget, P, 100_000, "req-budget", AT)
    in_tx(engine, repository.reserve, P, "x000001", 39_000, "evt-1", AT)
    payout_id, _ = approve(engine, "x000001")
    batch = in_tx(engine, repository.create_batch, P, "acc-cp", AT, date(2026, 12, 1))
    in_tx(engine, repository.mark_payout_failed, payout_id, "IBAN refused", "req-failed", AT)
    assert in_tx(engine, repository.mark_batch_paid, batch, "req-paid", AT) == []
    with Session(engine) as session:
        assert repository.balance(session, P).reserved_cents == 39_000
        assert [e.kind for e in repository.ledger_entries(session, P)] == ["budget_set", "reserve"]


def test_two_contact_points_batching_at_once_never_batch_a_payout_twice(pg):
    for i in range(20):
        approve(pg, f"x{i:06d}")
    start = threading.Barrier(2)
    batches: list = []

    def build() -> None:
        start.wait()
        try:
            batches.append(in_tx(pg, repository.create_batch, P, "acc-cp", AT, date(2026, 12, 1)))
        except InvalidState:
            pass

    threads = [threading.Thread(target=build) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with pg.connect() as conn:
        counts = conn.execute(text(
            "SELECT count(*), count(DISTINCT payout_id) FROM payment_batch_items")).one()
    assert counts == (20, 20)


def test_unpaid_payouts_past_their_due_date_are_listed_overdue(engine):
    in_tx(engine, repository.set_budget, P, 100_000, "req-budget", AT)
    for exchange in ("x000001", "x000002"):
        in_tx(engine, repository.reserve, P, exchange, 39_000, f"evt-{exchange}", AT)
        approve(engine, exchange)
    with Session(engine) as session:
        assert repository.overdue_payouts(session, date(2026, 12, 5)) == []
        assert len(repository.overdue_payouts(session, date(2026, 12, 6), P)) == 2
    batch = in_tx(engine, repository.create_batch, P, "acc-cp", AT, date(2026, 12, 1), None)
    in_tx(engine, repository.mark_batch_paid, batch, "req-paid", AT)
    with Session(engine) as session:
        assert repository.overdue_payouts(session, date(2026, 12, 6)) == []


def test_the_sepa_file_of_a_stored_batch_sums_to_the_batch_total(engine):
    for exchange, amount in (("x000001", 78_000), ("x000002", 39_000), ("x000003", 39_001)):
        approve(engine, exchange, amount)
    batch_id = in_tx(engine, repository.create_batch, P, "acc-cp", AT, date(2026, 12, 1))
    with Session(engine) as session:
        batch = repository.get_batch(session, batch_id)
        transfers = [CreditTransfer(item.payout_id, item.end_to_end_id, "Visiting organisation",
                                    "DE89370400440532013000", item.amount_cents,
                                    remittance_for(item.end_to_end_id))
                     for item in repository.batch_items(session, batch_id)]
    debtor = DebtorAccount("Agri-Food Excellence Partnership", "PT50000201231234567890154", "BPIAPTPL")
    sepa = build_credit_transfer_file(debtor, transfers, batch.execution_date, batch.message_id)
    validate_pain001(sepa.xml)
    assert sepa.control_sum_cents == batch.total_cents == 156_001
    assert b"<CtrlSum>1560.01</CtrlSum>" in sepa.xml and len(batch.message_id) <= 35


def test_the_budget_history_sums_the_ledger_per_utc_day_in_the_database(engine):
    days = [datetime(2026, 1, 1, 23, 30, tzinfo=UTC), datetime(2026, 1, 5, 0, 0, tzinfo=UTC),
            datetime(2026, 1, 5, 23, 59, tzinfo=UTC), datetime(2026, 2, 1, 9, 0, tzinfo=UTC)]
    in_tx(engine, repository.set_budget, P, 100_000, "budget", days[0])
    in_tx(engine, repository.reserve, P, "x-1", 30_000, "r-1", days[1])
    in_tx(engine, repository.reserve, P, "x-2", 20_000, "r-2", days[2])
    in_tx(engine, repository.pay, "x-1", "p-1", days[3])
    with Session(engine) as session:
        moves = repository.ledger_daily_movements(session, P, datetime(2026, 1, 2, tzinfo=UTC),
                                                  datetime(2026, 3, 1, tzinfo=UTC))
        opening = repository.ledger_opening(session, P, datetime(2026, 1, 2, tzinfo=UTC))
        assert repository.first_ledger_day(session, P) == days[0]
        [row] = repository.budget_totals(session, P)
        assert repository.budget_totals(session, "nobody") == []
    assert [(m.day, m.budget_cents, m.reserved_cents, m.paid_cents) for m in moves] == [
        (date(2026, 1, 5), 0, 50_000, 0), (date(2026, 2, 1), 0, -30_000, 30_000)]
    assert opening.budget_cents == 100_000 and opening.reserved_cents == 0
    assert (row.reserved_cents, row.paid_cents, row.reserved_exchanges, row.paid_exchanges) == (
        20_000, 30_000, 1, 1)
