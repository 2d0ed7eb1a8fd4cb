"""Exchanges counted for the dashboards: the rows come from GROUP BY queries
(`repository.exchange_counts`, `exchanges_by_month_and_state`, `lump_sums_by_host_country`);
this shapes them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from common.statistics import UNKNOWN


def by_month(rows: Iterable[tuple[str | None, str, int]]) -> list[dict[str, Any]]:
    """(month, state, count) rows as one entry a month, oldest first, with its count per
    state; exchanges without a start date yet are the month `unknown`, last."""
    months: dict[str, dict[str, int]] = {}
    for month, state, count in rows:
        states = months.setdefault(month or UNKNOWN, {})
        states[state] = states.get(state, 0) + int(count)
    ordered = sorted(months, key=lambda month: (month == UNKNOWN, month))
    return [{"month": month, "count": sum(months[month].values()), "states": months[month]}
            for month in ordered]


def lump_sums(rows: Iterable[Any]) -> list[dict[str, Any]]:
    return [{"host_country": row.host_country or UNKNOWN, "committed_cents": int(row.committed_cents),
             "paid_cents": int(row.paid_cents), "exchanges": int(row.exchanges)} for row in rows]
