"""A partnership's budget over time, from the ledger's daily movements.

The repository sums the ledger per day in SQL (`repository.ledger_daily_movements`); this
module turns those few rows into a series of balances: the balance before the period, then
the balance at the end of each day (or week) that had movements, and the balance on the
last day of the period, so a chart's line runs to the end. Weeks start on Monday.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from services.payments.ledger import Balance

DAY = "day"
WEEK = "week"
INTERVALS = (DAY, WEEK)
# A longer period in days makes too many points for a chart; weeks then.
MAX_DAILY_POINTS = 400


@dataclass(frozen=True)
class Movement:
    """The ledger's net change on one day."""

    day: date
    budget_cents: int
    reserved_cents: int
    paid_cents: int


@dataclass(frozen=True)
class Point:
    day: date
    balance: Balance

    def as_dict(self) -> dict[str, object]:
        return {"date": self.day, "budget_cents": self.balance.budget_cents,
                "reserved_cents": self.balance.reserved_cents,
                "paid_cents": self.balance.paid_cents,
                "available_cents": self.balance.available_cents}


def bucket(day: date, interval: str) -> date:
    return day - timedelta(days=day.weekday()) if interval == WEEK else day


def series(opening: Balance, movements: list[Movement], since: date, until: date,
           interval: str = DAY) -> list[Point]:
    """Balances from `since` to `until` (both included): the opening balance on `since`,
    one point per day (week) with movements, and the closing balance on `until`."""
    points: dict[date, Balance] = {bucket(since, interval): opening}
    current = opening
    for movement in sorted(movements, key=lambda m: m.day):
        if not since <= movement.day <= until:
            continue
        current = Balance(current.budget_cents + movement.budget_cents,
                          current.reserved_cents + movement.reserved_cents,
                          current.paid_cents + movement.paid_cents)
        points[bucket(movement.day, interval)] = current
    points[bucket(until, interval)] = current
    return [Point(day, balance) for day, balance in sorted(points.items())]


def default_interval(since: date, until: date) -> str:
    return DAY if (until - since).days <= MAX_DAILY_POINTS else WEEK
