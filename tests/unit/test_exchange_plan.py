"""Plan rules: working days in the host country, one month at most, never an internship."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from common.errors import ValidationFailed
from services.agreements.plan import check_plan, ensure_submittable, failures_by_field, not_an_exchange_term
from services.agreements.working_days import PUBLIC_HOLIDAY, TRAVEL, WEEKEND, count_working_days

TODAY = date(2026, 11, 25)


def plan(start: date, end: date, **overrides) -> dict:
    base = {
        "mode": "physical", "start_date": start.isoformat(), "end_date": end.isoformat(),
        "travel_days_before": 0, "travel_days_after": 0,
        "objectives": ["learn"], "activity_types": ["knowledge_sharing"],
        "action_plan": [{"date": start.isoformat(), "title": "Visit of the cluster's members",
                         "description": "Meet the textile recyclers."}],
        "expected_outcomes": "A joint project idea on textile recycling.",
        "responsibilities": {"visitor": "Prepare a presentation.", "host": "Organise the visits."},
        "languages": ["en"],
    }
    base.update(overrides)
    return base


def test_weekends_public_holidays_and_travel_days_are_excluded_with_their_reason():
    # Christmas 2026 in Portugal: Wednesday 23 (travel) to Tuesday 29 (travel).
    days = count_working_days("PT", date(2026, 12, 23), date(2026, 12, 29), 1, 1)
    assert days.calendar_days == 7
    assert days.working_days == 2  # 24 and 28 December
    reasons = {d.day.isoformat(): d.reason for d in days.excluded}
    assert reasons == {"2026-12-23": TRAVEL, "2026-12-25": PUBLIC_HOLIDAY, "2026-12-26": WEEKEND,
                       "2026-12-27": WEEKEND, "2026-12-29": TRAVEL}
    assert any("Christmas" in d.detail for d in days.excluded)


def test_the_host_countrys_calendar_counts_not_the_visitors():
    # 17 February is Independence Day in Kosovo, an ordinary Tuesday in Portugal.
    assert count_working_days("XK", date(2026, 2, 16), date(2026, 2, 18)).working_days == 2
    assert count_working_days("PT", date(2026, 2, 16), date(2026, 2, 18)).working_days == 3


def test_three_plain_working_days_are_enough():
    start = date(2027, 3, 9)  # a Tuesday
    ensure_submittable(plan(start, start + timedelta(days=2)), "DE", TODAY)


def test_a_two_working_day_stay_is_refused_naming_the_rule():
    start = date(2027, 3, 9)
    with pytest.raises(ValidationFailed) as refused:
        ensure_submittable(plan(start, start + timedelta(days=1)), "DE", TODAY)
    assert "2 working days" in refused.value.errors["end_date"][0]
    assert "at least 3" in refused.value.errors["end_date"][0]


def test_a_public_holiday_that_leaves_two_working_days_is_refused():
    # 30 April - 4 May 2027 in Poland: Fri 30, Sat 1 (Labour Day), Sun 2, Mon 3 (Constitution Day).
    with pytest.raises(ValidationFailed) as refused:
        ensure_submittable(plan(date(2027, 4, 30), date(2027, 5, 4)), "PL", TODAY)
    assert "2 working days in PL" in refused.value.errors["end_date"][0]


def test_a_thirty_five_day_stay_is_refused_as_longer_than_a_month():
    start = date(2027, 3, 1)
    with pytest.raises(ValidationFailed) as refused:
        ensure_submittable(plan(start, start + timedelta(days=34)), "DE", TODAY)
    assert any("at most one month" in m for m in refused.value.errors["end_date"])


def test_a_thirty_one_day_stay_is_fine():
    start = date(2027, 3, 1)
    ensure_submittable(plan(start, start + timedelta(days=30)), "DE", TODAY)


@pytest.mark.parametrize("text", [
    "Host our junior designer for an internship",
    "a six-week work placement in the host's workshop",
    "Praktikum in der Entwicklungsabteilung",
    "accueillir deux stagiaires",
    "um estágio na empresa anfitriã",
])
def test_an_internship_or_work_placement_is_refused_in_any_free_text(text):
    start = date(2027, 3, 9)
    draft = plan(start, start + timedelta(days=4), expected_outcomes=text)
    errors = failures_by_field(check_plan(draft, "DE", TODAY))
    assert "expected_outcomes" in errors
    assert "never be an internship" in errors["expected_outcomes"][0]


@pytest.mark.parametrize("text", ["internal processes", "international markets",
                                  "a stage of the project", "train the trainers"])
def test_ordinary_words_are_not_mistaken_for_an_internship(text):
    assert not_an_exchange_term(text) is None


def test_action_plan_items_must_be_dated_inside_the_stay():
    start = date(2027, 3, 9)
    draft = plan(start, start + timedelta(days=4),
                 action_plan=[{"date": "2027-03-20", "title": "Workshop"}])
    errors = failures_by_field(check_plan(draft, "DE", TODAY))
    assert "outside the stay" in errors["action_plan.0.date"][0]


def test_a_virtual_exchange_has_no_travel_days():
    start = date(2027, 3, 8)
    draft = plan(start, start + timedelta(days=6), mode="virtual", travel_days_before=1)
    assert "travel_days_before" in failures_by_field(check_plan(draft, "DE", TODAY))


def test_a_draft_lists_what_is_missing_field_by_field():
    errors = failures_by_field(check_plan({}, "DE", TODAY))
    assert {"mode", "start_date", "end_date", "objectives", "activity_types", "action_plan",
            "expected_outcomes", "responsibilities.visitor", "responsibilities.host",
            "languages"} <= set(errors)


def test_a_stay_in_the_past_is_refused():
    start = TODAY - timedelta(days=10)
    errors = failures_by_field(check_plan(plan(start, start + timedelta(days=4)), "DE", TODAY))
    assert "start_date" in errors


def test_travel_days_that_do_not_fit_are_a_clear_error():
    with pytest.raises(ValidationFailed):
        count_working_days("DE", date(2027, 3, 9), date(2027, 3, 10), 2, 1)
