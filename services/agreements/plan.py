"""Rules of an exchange's plan (the content of the commitment to quality), as plain Python.

A draft may be incomplete; `check_plan` lists every rule with whether the plan meets it, so
the same answer serves a form while it is typed and the refusal of a submission.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from common import reference
from common.errors import ValidationFailed
from common.rules import RuleResult, failures_by_field, lookup
from services.agreements.working_days import WorkingDays, count_working_days

MIN_WORKING_DAYS = 3
MAX_STAY_DAYS = 31  # "at most one month", travel days included
MODES = ("physical", "virtual")
FREE_TEXT_FIELDS = ("expected_outcomes", "responsibilities.visitor", "responsibilities.host")

# The scheme pays for exchanges between organisations, never for a person's internship or
# work placement. Word forms in the programme's most used languages.
_NOT_AN_EXCHANGE = re.compile(
    r"\b(internships?|interns?|traineeships?|work[- ]placements?|job[- ]placements?|"
    r"apprenticeships?|praktikum|praktikant(?:in|en)?|stagiaires?|tirocini[oi]|tirocinante|"
    r"pr[aá]cticas\s+profesionales|becari[oa]s?|est[aá]gios?|estagi[aá]ri[oa]s?|sta[zż]|"
    r"praktykant(?:ka)?)\b",
    re.IGNORECASE,
)



REQUIRED_FOR_SUBMIT = {
    "mode": "the mode (physical or virtual)",
    "start_date": "the first day of the stay",
    "end_date": "the last day of the stay",
    "objectives": "at least one objective",
    "activity_types": "at least one activity type",
    "action_plan": "a day-by-day action plan",
    "expected_outcomes": "the expected outcomes",
    "responsibilities.visitor": "the visitor's responsibilities",
    "responsibilities.host": "the host's responsibilities",
    "languages": "at least one working language",
}



def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def not_an_exchange_term(text: str | None) -> str | None:
    """The first word that asks for an internship or work placement, if any."""
    match = _NOT_AN_EXCHANGE.search(text or "")
    return match.group(0) if match else None


def stay_days(plan: dict[str, Any], host_country: str) -> WorkingDays | None:
    start, end = _as_date(plan.get("start_date")), _as_date(plan.get("end_date"))
    if start is None or end is None or end < start or not host_country:
        return None
    try:
        return count_working_days(host_country, start, end,
                                  int(plan.get("travel_days_before") or 0),
                                  int(plan.get("travel_days_after") or 0))
    except ValidationFailed:
        return None


def check_plan(plan: dict[str, Any], host_country: str, today: date) -> list[RuleResult]:
    """Every rule of the plan, passed or not, with a message that explains the outcome."""
    results: list[RuleResult] = []

    def rule(name: str, field: str, passed: bool, ok: str, failed: str) -> None:
        results.append(RuleResult(name, field, passed, ok if passed else failed))

    for path, what in REQUIRED_FOR_SUBMIT.items():
        value = lookup(plan, path)
        present = value not in (None, "", [], {}) and not (isinstance(value, str) and not value.strip())
        rule("complete", path, present, f"Has {what}.", f"Please provide {what}.")

    start, end = _as_date(plan.get("start_date")), _as_date(plan.get("end_date"))
    before = int(plan.get("travel_days_before") or 0)
    after = int(plan.get("travel_days_after") or 0)
    if start is not None:
        rule("starts_in_future", "start_date", start > today,
             "The stay starts after today.", "The stay must start after today.")
    if start is not None and end is not None:
        ordered = end >= start
        rule("dates_ordered", "end_date", ordered, "The stay ends on or after its first day.",
             "The stay must end on or after its first day.")
        if ordered:
            length = (end - start).days + 1
            rule("at_most_one_month", "end_date", length <= MAX_STAY_DAYS,
                 f"The stay lasts {length} days (at most {MAX_STAY_DAYS}).",
                 f"The stay lasts {length} days; an exchange lasts at most one month "
                 f"({MAX_STAY_DAYS} days, travel days included).")
            fits = before + after <= length
            rule("travel_days_fit", "travel_days_before", fits,
                 "The travel days fit inside the stay.",
                 "The travel days are more than the days of the stay.")
    if plan.get("mode") == "virtual":
        rule("virtual_no_travel", "travel_days_before", before == 0 and after == 0,
             "A virtual exchange has no travel days.", "A virtual exchange has no travel days.")

    days = stay_days(plan, host_country)
    if days is not None:
        rule("minimum_working_days", "end_date", days.working_days >= MIN_WORKING_DAYS,
             f"{days.working_days} working days in {host_country} (at least {MIN_WORKING_DAYS}).",
             f"The stay has {days.working_days} working day{'s' if days.working_days != 1 else ''} "
             f"in {host_country} (weekends, public holidays and travel days excluded); it needs "
             f"at least {MIN_WORKING_DAYS}.")

    for index, item in enumerate(plan.get("action_plan") or []):
        day = _as_date((item or {}).get("date"))
        if day is not None and start is not None and end is not None:
            rule("action_inside_stay", f"action_plan.{index}.date", start <= day <= end,
                 "Dated inside the stay.",
                 f"{day.isoformat()} is outside the stay ({start.isoformat()} to {end.isoformat()}).")

    for path, text in _free_texts(plan):
        term = not_an_exchange_term(text)
        rule("not_an_internship", path, term is None, "Describes an exchange between organisations.",
             f"\"{term}\": an exchange is between organisations; it can never be an internship, "
             "a traineeship or a work placement.")

    objectives = set(reference.objective_codes())
    activities = set(reference.activity_type_codes())
    for code in plan.get("objectives") or []:
        rule("known_objective", "objectives", code in objectives, "A programme objective.",
             f"{code} is not one of the programme's objectives.")
    for code in plan.get("activity_types") or []:
        rule("known_activity_type", "activity_types", code in activities, "A programme activity.",
             f"{code} is not one of the programme's activity types.")
    return results


def _free_texts(plan: dict[str, Any]) -> list[tuple[str, str]]:
    texts = [(path, lookup(plan, path)) for path in FREE_TEXT_FIELDS]
    for index, item in enumerate(plan.get("action_plan") or []):
        for key in ("title", "description"):
            texts.append((f"action_plan.{index}.{key}", (item or {}).get(key)))
    return [(path, text) for path, text in texts if isinstance(text, str) and text]



def ensure_submittable(plan: dict[str, Any], host_country: str, today: date) -> None:
    errors = failures_by_field(check_plan(plan, host_country, today))
    if errors:
        raise ValidationFailed("The exchange plan does not meet the programme's rules yet.", errors)
