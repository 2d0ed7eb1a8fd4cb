"""The statistics' rules: who sees which figures, counts as the pages show them, a budget's
balances over time from its daily movements, and exchanges per month."""

from __future__ import annotations

from datetime import date

import pytest

from common.auth import Caller
from common.errors import NotAllowed
from common.statistics import UNKNOWN, counts, statistics_scope
from services.agreements.statistics import by_month
from services.payments.budget_history import DAY, WEEK, Movement, default_interval, series
from services.payments.ledger import Balance

P, Q = "partnership-p", "partnership-q"


def _caller(*roles: str, partnership_id: str | None = None) -> Caller:
    return Caller(account_id="a", roles=frozenset(roles), partnership_id=partnership_id)


def test_administrators_see_the_programme_or_the_partnership_they_ask_for():
    admin = _caller("admin")
    assert statistics_scope(admin, None) is None
    assert statistics_scope(admin, Q) == Q


def test_a_contact_point_sees_its_own_partnership_only():
    contact = _caller("partnership_contact", partnership_id=P)
    assert statistics_scope(contact, None) == P and statistics_scope(contact, P) == P
    with pytest.raises(NotAllowed):
        statistics_scope(contact, Q)
    with pytest.raises(NotAllowed):  # a contact point without a partnership is nobody's
        statistics_scope(_caller("partnership_contact"), None)


@pytest.mark.parametrize("roles", [("participant",), ("support_agent",), ("backoffice",), ("service",)])
def test_every_other_role_is_refused(roles):
    with pytest.raises(NotAllowed):
        statistics_scope(_caller(*roles, partnership_id=P), None)


def test_counts_put_the_biggest_first_and_empty_keys_together_as_unknown():
    assert counts([("PT", 2), (None, 1), ("DE", 5), ("", 2), ("AT", 2)]) == [
        {"key": "DE", "count": 5}, {"key": UNKNOWN, "count": 3}, {"key": "AT", "count": 2},
        {"key": "PT", "count": 2}]
    assert counts([]) == []


def test_the_balance_series_starts_from_the_opening_and_runs_to_the_last_day():
    opening = Balance(100_000, 0, 0)
    moves = [Movement(date(2026, 1, 7), 0, 39_000, 0), Movement(date(2026, 1, 5), 0, 78_000, 0),
             Movement(date(2026, 2, 2), 0, -78_000, 78_000),
             Movement(date(2025, 12, 1), 5, 5, 5)]  # outside the period: ignored
    points = series(opening, moves, date(2026, 1, 1), date(2026, 2, 10), DAY)
    assert [p.day for p in points] == [date(2026, 1, 1), date(2026, 1, 5), date(2026, 1, 7),
                                       date(2026, 2, 2), date(2026, 2, 10)]
    assert points[0].balance == opening
    assert points[2].balance == Balance(100_000, 117_000, 0)
    assert points[-1].as_dict() == {"date": date(2026, 2, 10), "budget_cents": 100_000,
                                    "reserved_cents": 39_000, "paid_cents": 78_000,
                                    "available_cents": -17_000}


def test_weekly_points_keep_each_weeks_last_balance_on_its_monday():
    moves = [Movement(date(2026, 1, 5), 100, 0, 0), Movement(date(2026, 1, 9), 0, 40, 0),
             Movement(date(2026, 1, 12), 0, 0, 10)]
    points = series(Balance(), moves, date(2026, 1, 5), date(2026, 1, 14), WEEK)
    assert [(p.day, p.balance) for p in points] == [
        (date(2026, 1, 5), Balance(100, 40, 0)), (date(2026, 1, 12), Balance(100, 40, 10))]


def test_a_period_without_movements_is_two_points_of_the_opening_and_one_day_is_one():
    assert len(series(Balance(5, 0, 0), [], date(2026, 1, 1), date(2026, 3, 1))) == 2
    [only] = series(Balance(5, 0, 0), [], date(2026, 1, 1), date(2026, 1, 1))
    assert only.balance.available_cents == 5


def test_long_periods_are_shown_in_weeks():
    assert default_interval(date(2026, 1, 1), date(2026, 12, 31)) == DAY
    assert default_interval(date(2024, 1, 1), date(2026, 12, 31)) == WEEK


def test_exchanges_per_month_are_oldest_first_with_undated_ones_last():
    rows = [("2026-03", "ready", 2), (None, "draft", 4), ("2026-01", "paid", 1),
            ("2026-03", "cancelled", 1)]
    assert by_month(rows) == [
        {"month": "2026-01", "count": 1, "states": {"paid": 1}},
        {"month": "2026-03", "count": 3, "states": {"ready": 2, "cancelled": 1}},
        {"month": UNKNOWN, "count": 4, "states": {"draft": 4}}]
