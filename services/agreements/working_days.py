"""Working days of a stay, counted in the host country's calendar.

The stay runs from its first to its last day, both included. Its first and last travel days
(travel before / after) do not count, nor do weekends and the host country's public holidays
(the `holidays` package, which knows every participating country). A country it does not
know is a clear error, never a guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

import holidays

from common.errors import ValidationFailed

TRAVEL = "travel"
WEEKEND = "weekend"
PUBLIC_HOLIDAY = "public_holiday"
WEEKEND_DAYS = (5, 6)  # Saturday, Sunday


@dataclass(frozen=True)
class ExcludedDay:
    day: date
    reason: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"date": self.day.isoformat(), "reason": self.reason, "detail": self.detail}


@dataclass(frozen=True)
class WorkingDays:
    country: str
    start: date
    end: date
    calendar_days: int
    working_days: int
    excluded: tuple[ExcludedDay, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"country": self.country, "start": self.start.isoformat(),
                "end": self.end.isoformat(), "calendar_days": self.calendar_days,
                "working_days": self.working_days,
                "excluded": [day.to_dict() for day in self.excluded]}


@lru_cache(maxsize=256)
def _public_holidays(country: str, year: int) -> dict[date, str]:
    try:
        calendar = holidays.country_holidays(country, years=year, language="en_US")
    except NotImplementedError:
        try:
            calendar = holidays.country_holidays(country, years=year)
        except NotImplementedError as exc:
            raise ValidationFailed(
                f"There is no public-holiday calendar for the host country {country}.",
                {"host_country": ["No public-holiday calendar is known for this country."]},
            ) from exc
    return dict(calendar.items())


def public_holiday(country: str, day: date) -> str | None:
    return _public_holidays(country, day.year).get(day)


def count_working_days(country: str, start: date, end: date, travel_before: int = 0,
                       travel_after: int = 0) -> WorkingDays:
    """Every day of the stay, each either counted or excluded with its reason."""
    if end < start:
        raise ValidationFailed("The stay must end on or after its first day.",
                               {"end_date": ["Must be on or after the start date."]})
    calendar_days = (end - start).days + 1
    if travel_before < 0 or travel_after < 0 or travel_before + travel_after > calendar_days:
        raise ValidationFailed("The travel days do not fit inside the stay.",
                               {"travel_days_before": ["Travel days must fit inside the stay."]})
    excluded: list[ExcludedDay] = []
    counted = 0
    for offset in range(calendar_days):
        day = start + timedelta(days=offset)
        if offset < travel_before:
            excluded.append(ExcludedDay(day, TRAVEL, "Travel day before the stay"))
        elif offset >= calendar_days - travel_after:
            excluded.append(ExcludedDay(day, TRAVEL, "Travel day after the stay"))
        elif day.weekday() in WEEKEND_DAYS:
            excluded.append(ExcludedDay(day, WEEKEND, day.strftime("%A")))
        elif (name := public_holiday(country, day)) is not None:
            excluded.append(ExcludedDay(day, PUBLIC_HOLIDAY, f"Public holiday in {country}: {name}"))
        else:
            counted += 1
    return WorkingDays(country, start, end, calendar_days, counted, tuple(excluded))
