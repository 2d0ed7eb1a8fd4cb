"""Meeting slots (Brussels time, Belgian working days, DST) and reminder due rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from gateway.browser import browser_from_user_agent
from services.notifications import slots, steps
from services.notifications.support_schemas import CreateSupportQuerySchema


def test_a_working_day_has_eight_half_hour_slots_from_ten_to_two_brussels_time():
    day = slots.day_slots(date(2026, 11, 17))  # a Tuesday
    assert len(day) == 8
    assert [s.local_start.strftime("%H:%M") for s in day] == [
        "10:00", "10:30", "11:00", "11:30", "12:00", "12:30", "13:00", "13:30"]
    assert all(s.end - s.start == timedelta(minutes=30) for s in day)


def test_weekends_and_belgian_public_holidays_have_no_slots():
    assert slots.day_slots(date(2026, 11, 14)) == []  # Saturday
    assert slots.day_slots(date(2026, 11, 15)) == []  # Sunday
    assert slots.day_slots(date(2026, 11, 11)) == []  # Armistice Day, a Wednesday
    assert slots.day_slots(date(2026, 7, 21)) == []  # Belgian National Day, a Tuesday
    assert slots.day_slots(date(2026, 12, 25)) == []  # Christmas, a Friday
    assert len(slots.day_slots(date(2026, 11, 12))) == 8


def test_the_ten_oclock_slot_moves_in_utc_across_the_end_of_summer_time():
    # Summer time ends on Sunday 25 October 2026: 10:00 Brussels is 08:00 UTC before, 09:00 after.
    week = slots.slots_between(date(2026, 10, 22), date(2026, 10, 28))
    first_of_day = {s.local_start.date(): s for s in reversed(week)}
    assert first_of_day[date(2026, 10, 23)].start == datetime(2026, 10, 23, 8, 0, tzinfo=UTC)
    assert first_of_day[date(2026, 10, 26)].start == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)
    assert sorted(first_of_day) == [date(2026, 10, 22), date(2026, 10, 23), date(2026, 10, 26),
                                    date(2026, 10, 27), date(2026, 10, 28)]
    view = first_of_day[date(2026, 10, 26)].view(True)
    assert view["start"] == "2026-10-26T09:00:00Z"
    assert view["local_start"] == "2026-10-26T10:00:00+01:00"
    assert first_of_day[date(2026, 10, 23)].view(True)["local_start"] == "2026-10-23T10:00:00+02:00"


def test_only_a_real_slot_start_is_a_slot():
    assert slots.slot_at(datetime(2026, 10, 26, 9, 0, tzinfo=UTC)) is not None
    assert slots.slot_at(datetime(2026, 10, 26, 8, 0, tzinfo=UTC)) is None  # 09:00 Brussels
    assert slots.slot_at(datetime(2026, 10, 26, 9, 15, tzinfo=UTC)) is None
    assert slots.slot_at(datetime(2026, 10, 26, 12, 30, tzinfo=UTC)) is not None  # 13:30, the last
    assert slots.slot_at(datetime(2026, 10, 26, 13, 0, tzinfo=UTC)) is None  # 14:00 Brussels
    assert slots.slot_at(datetime(2026, 10, 23, 12, 0, tzinfo=UTC)) is None  # 14:00 in summer time
    assert slots.slot_at(datetime(2026, 11, 11, 9, 0, tzinfo=UTC)) is None  # a holiday
    assert slots.slot_at(datetime(2026, 10, 26, 9, 0)) is None  # no zone: not a moment


def test_upcoming_slots_start_after_now_and_stop_after_the_weeks_asked():
    now = datetime(2026, 10, 23, 9, 45, tzinfo=UTC)  # Friday 11:45 Brussels
    found = slots.upcoming(now, 1)
    assert found[0].start == datetime(2026, 10, 23, 10, 0, tzinfo=UTC)
    assert all(s.start > now for s in found)
    assert found[-1].local_start.date() == date(2026, 10, 30)


def _event(event_type: str, **fields) -> dict:
    return {"event_id": "e", "event_type": event_type, "occurred_at": "2026-11-02T09:00:00+00:00",
            **fields}


def test_each_step_is_opened_by_its_event_and_completed_by_the_next():
    submitted = _event("registration_submitted", registration_id="r1", partnership_id="p1")
    assert [s.kind for s in steps.opened(submitted)] == [steps.ASSESSMENT]
    assert [s.kind for s in steps.completed(_event("registration_accepted", registration_id="r1"))] == [
        steps.ASSESSMENT]
    report = _event("closing_report_submitted", exchange_id="x", amount_cents=78000)
    assert [s.kind for s in steps.opened(report)] == [steps.EVIDENCE_REVIEW]
    assert [s.kind for s in steps.completed(report)] == [steps.CLOSING_REPORT]
    virtual = _event("closing_report_submitted", exchange_id="x", amount_cents=0)
    assert steps.opened(virtual) == []
    cancelled = _event("exchange_cancelled", exchange_id="x")
    assert {s.kind for s in steps.completed(cancelled)} == {
        steps.VALIDATION, steps.SIGNATURE, steps.FINANCIAL_AGREEMENT, steps.CLOSING_REPORT,
        steps.EVIDENCE_REVIEW}


def test_first_reminders_fall_due_by_kind():
    settings = steps.Settings()
    assert steps.first_due(steps.ASSESSMENT, _event("registration_submitted"), settings) == datetime(
        2026, 11, 7, 9, 0, tzinfo=UTC)
    completed = _event("exchange_completed", end_date="2026-11-20")
    assert steps.first_due(steps.CLOSING_REPORT, completed, settings) == datetime(
        2026, 11, 28, tzinfo=UTC)  # the day after the stay, plus 7 days
    approved = _event("payout_approved", due_on="2026-11-12")
    assert steps.first_due(steps.PAYOUT, approved, settings) == datetime(2026, 11, 13, tzinfo=UTC)
    requested = _event("contact_requested")
    assert steps.first_due(steps.CONTACT_ANSWER, requested, settings) == datetime(
        2026, 11, 13, 9, 0, tzinfo=UTC)  # 14 days to expire, warned 3 days before
    short = steps.Settings(contact_expiry_days=2, contact_warning_days=3)
    assert steps.first_due(steps.CONTACT_ANSWER, requested, short) == datetime(
        2026, 11, 2, 9, 0, tzinfo=UTC)


def test_one_reminder_per_interval_and_no_more_than_the_maximum():
    settings = steps.Settings(repeat_days=7, max_reminders=3)
    due = datetime(2026, 11, 7, tzinfo=UTC)
    assert steps.reminder_number(due, due - timedelta(seconds=1), settings) == 0
    assert steps.reminder_number(due, due, settings) == 1
    assert steps.reminder_number(due, due + timedelta(days=6, hours=23), settings) == 1
    assert steps.reminder_number(due, due + timedelta(days=7), settings) == 2
    assert steps.reminder_number(due, due + timedelta(days=100), settings) == 3
    assert steps.next_at(due, 1, settings) == due + timedelta(days=7)
    assert steps.next_at(due, 3, settings) is None


def test_a_signature_no_longer_reminds_the_party_that_signed():
    rows = steps.rules_as_rows(steps.SPEC_BY_KIND[steps.SIGNATURE].rules)
    left = steps.still_to_act(rows, [["2", "vo"], ["1", "hop"]], {"content_version": "2"})
    assert [row[0] for row in left] == ["host", "visitor_contact_point", "host_contact_point"]
    assert steps.still_to_act(rows, [["2", "nobody"]], {"content_version": "2"}) == rows


def test_settings_come_from_configuration():
    settings = steps.Settings.from_config({"repeat_days": 2, "unknown": 1}, 10)
    assert settings.repeat_days == 2 and settings.contact_expiry_days == 10


def test_browser_brand_and_version_from_the_user_agent():
    chrome = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/131.0.0.0 Safari/537.36")
    assert browser_from_user_agent(chrome) == ("Chrome", "131.0.0.0")
    assert browser_from_user_agent(chrome + " Edg/131.0.2903.70") == ("Edge", "131.0.2903.70")
    assert browser_from_user_agent("Mozilla/5.0 (X11; rv:133.0) Gecko/20100101 Firefox/133.0") == (
        "Firefox", "133.0")
    safari = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
              "Version/18.1 Safari/605.1.15")
    assert browser_from_user_agent(safari) == ("Safari", "18.1")
    assert browser_from_user_agent("curl/8.5.0") == (None, None)


def test_an_exchange_reference_must_look_like_one():
    schema = CreateSupportQuerySchema()
    base = {"subject": "Help", "text": "How?", "participant_status": "interested"}
    assert not schema.validate({**base, "exchange_reference": "CXC-2026-000123"})
    assert "exchange_reference" in schema.validate({**base, "exchange_reference": "CXC-26-123"})
