"""The lump-sum table: one rate per host country, versioned by effective dates.

The shipped figures live in `common/refdata/lump_sums.json` (loaded into the `lump_sum_rates`
table by `cxc seed`); an administrator changes a rate later, and each change is kept as a
`RateChange` (who, when, old → new). Dates are inclusive: a rate applies from `valid_from`
to `valid_to` (None: open-ended). No rate may exceed the programme threshold.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from common import reference
from services.payments.exceptions import NoLumpSumRate, OverlappingRates, RateAboveThreshold
from services.payments.money import ensure_cents

DEFAULT_THRESHOLD_CENTS = 110_000
LUMP_SUMS_FILE = "lump_sums.json"


@dataclass(frozen=True)
class LumpSumRate:
    country: str
    amount_cents: int
    valid_from: date
    valid_to: date | None = None
    # Counts the figures a country has had: 1 for the shipped one, +1 per administrator change.
    version: int = 1

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True)
class RateChange:
    """One administrator edit of the table, kept for the audit trail."""

    country: str
    old_amount_cents: int | None
    new_amount_cents: int
    valid_from: date
    changed_by: str
    changed_at: datetime
    reason: str = ""


def _validate(rates: tuple[LumpSumRate, ...], threshold_cents: int) -> None:
    ensure_cents(threshold_cents, "threshold_cents", positive=True)
    by_country: dict[str, list[LumpSumRate]] = {}
    for rate in rates:
        ensure_cents(rate.amount_cents, "amount_cents", positive=True)
        if rate.amount_cents > threshold_cents:
            raise RateAboveThreshold.for_rate(rate.country, rate.amount_cents, threshold_cents)
        if rate.valid_to is not None and rate.valid_to < rate.valid_from:
            raise OverlappingRates(
                f"The rate for {rate.country} ends ({rate.valid_to}) before it starts ({rate.valid_from}).",
                {"valid_to": ["Must not be before valid_from."]})
        by_country.setdefault(rate.country, []).append(rate)
    for country, country_rates in by_country.items():
        ordered = sorted(country_rates, key=lambda r: r.valid_from)
        for earlier, later in zip(ordered, ordered[1:], strict=False):
            if earlier.valid_to is None or earlier.valid_to >= later.valid_from:
                raise OverlappingRates.for_country(country, earlier.valid_from, later.valid_from)


@dataclass(frozen=True)
class LumpSumTable:
    rates: tuple[LumpSumRate, ...]
    threshold_cents: int = DEFAULT_THRESHOLD_CENTS

    def __post_init__(self) -> None:
        _validate(self.rates, self.threshold_cents)

    def rate_on(self, country: str, on_date: date) -> LumpSumRate:
        for rate in self.rates:
            if rate.country == country and rate.covers(on_date):
                return rate
        raise NoLumpSumRate.for_country(country, on_date)

    def history(self, country: str) -> list[LumpSumRate]:
        return sorted((r for r in self.rates if r.country == country), key=lambda r: r.valid_from)

    def with_rate(self, country: str, amount_cents: int, valid_from: date, changed_by: str,
                  changed_at: datetime, reason: str = "") -> tuple[LumpSumTable, RateChange]:
        """The table with a new figure for `country` from `valid_from` on, and the change record.

        The figure in force on `valid_from` ends the day before (or is replaced when it starts
        that same day); the new one runs until the next scheduled figure, if any. Refused
        (unchanged table) when the figure exceeds the threshold.
        """
        ensure_cents(amount_cents, "amount_cents", positive=True)
        if amount_cents > self.threshold_cents:
            raise RateAboveThreshold.for_rate(country, amount_cents, self.threshold_cents)
        history = self.history(country)
        current = next((r for r in history if r.covers(valid_from)), None)
        later = [r for r in history if r.valid_from > valid_from]
        valid_to = later[0].valid_from - timedelta(days=1) if later else None
        kept = [r for r in self.rates if r is not current]
        if current is not None:
            valid_to = current.valid_to
            if current.valid_from < valid_from:
                kept.append(replace(current, valid_to=valid_from - timedelta(days=1)))
        version = max((r.version for r in history), default=0) + 1
        new_rate = LumpSumRate(country, amount_cents, valid_from, valid_to, version)
        table = LumpSumTable(tuple(kept) + (new_rate,), self.threshold_cents)
        change = RateChange(country, current.amount_cents if current else None, amount_cents,
                            valid_from, changed_by, changed_at, reason)
        return table, change


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def rates_from_records(records: Iterable[dict[str, Any]]) -> tuple[LumpSumRate, ...]:
    return tuple(
        LumpSumRate(
            country=record["country"],
            amount_cents=record["amount_cents"],
            valid_from=date.fromisoformat(record["valid_from"]),
            valid_to=_date(record.get("valid_to")),
            version=record.get("version", 1),
        )
        for record in records
    )


def shipped_table(threshold_cents: int | None = None) -> LumpSumTable:
    """The table as shipped in `common/refdata/lump_sums.json` (what `cxc seed` loads).

    `threshold_cents` is the configured programme threshold; the file's own value is the
    default. A file figure above the configured threshold is refused, not silently capped.
    """
    data = json.loads((reference.REFDATA / LUMP_SUMS_FILE).read_text(encoding="utf-8"))
    threshold = data["threshold_cents"] if threshold_cents is None else threshold_cents
    return LumpSumTable(rates_from_records(data["rates"]), threshold)
