"""Meeting slots with the support office, in plain Python: 30 minutes each, Monday to Friday,
10:00 to 14:00 Brussels time, on Belgian working days (public holidays from the `holidays`
package, as agreements counts working days).

Slots are defined in Brussels local time and carried in UTC: on the last Sunday of October
Brussels moves from UTC+2 to UTC+1, so the same 10:00 slot starts at 08:00 UTC the week
before and at 09:00 UTC the week after.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

BRUSSELS = ZoneInfo("Europe/Brussels")
SLOT_MINUTES = 30
DAY_START = time(10, 0)
DAY_END = time(14, 0)
HOLIDAY_COUNTRY = "BE"


@dataclass(frozen=True)
class Slot:
    start: datetime  # UTC
    end: datetime  # UTC

    @property
    def local_start(self) -> datetime:
        return self.start.astimezone(BRUSSELS)

    def view(self, available: bool) -> dict[str, object]:
        local = self.local_start
        return {"start": iso_utc(self.start), "end": iso_utc(self.end),
                "local_start": local.isoformat(), "local_end": self.end.astimezone(BRUSSELS).isoformat(),
                "timezone": "Europe/Brussels", "available": available}


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@lru_cache(maxsize=32)
def _belgian_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(HOLIDAY_COUNTRY, years=year))


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _belgian_holidays(day.year)


def day_slots(day: date) -> list[Slot]:
    """A working day's slots (none on a weekend or a Belgian public holiday)."""
    if not is_working_day(day):
        return []
    found = []
    local = datetime.combine(day, DAY_START, BRUSSELS)
    last = datetime.combine(day, DAY_END, BRUSSELS)
    step = timedelta(minutes=SLOT_MINUTES)
    while local + step <= last:
        # Wall-clock arithmetic in the zone, then to UTC: right on both sides of a DST change.
        start = local.astimezone(UTC)
        found.append(Slot(start, (local + step).astimezone(UTC)))
        local += step
    return found


def slots_between(first: date, last: date) -> list[Slot]:
    found: list[Slot] = []
    day = first
    while day <= last:
        found.extend(day_slots(day))
        day += timedelta(days=1)
    return found


def upcoming(now: datetime, weeks: int) -> list[Slot]:
    """Slots starting after `now`, through the next `weeks` weeks (Brussels days)."""
    today = now.astimezone(BRUSSELS).date()
    return [slot for slot in slots_between(today, today + timedelta(days=7 * weeks)) if slot.start > now]


def slot_at(start: datetime) -> Slot | None:
    """The slot starting exactly at `start`, or None when no slot starts then."""
    if start.tzinfo is None:
        return None
    local = start.astimezone(BRUSSELS)
    for slot in day_slots(local.date()):
        if slot.start == start.astimezone(UTC):
            return slot
    return None
