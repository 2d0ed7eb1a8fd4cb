"""The lump-sum table and the quote: the scheme's figures and rules, in words."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from common.errors import ValidationFailed
from services.payments.exceptions import NoLumpSumRate, OverlappingRates, RateAboveThreshold
from services.payments.lump_sums import LumpSumRate, LumpSumTable, shipped_table
from services.payments.money import euros
from services.payments.quote import quote

TODAY = date(2026, 11, 25)
PT_TABLE = LumpSumTable((LumpSumRate("PT", 78000, date(2014, 1, 1)),))


def amount(**kwargs) -> int:
    args = {"host_country": "PT", "working_days": 5, "mode": "physical", "distance_km": 900.0,
            "on_date": TODAY, "table": PT_TABLE}
    args.update(kwargs)
    return quote(**args).amount_cents


def texts(q) -> list[str]:
    return [rule.text for rule in q.rules]


def test_shipped_table_has_the_sourced_portugal_figure_only():
    table = shipped_table()
    assert table.threshold_cents == 110000
    assert [(r.country, r.amount_cents) for r in table.rates] == [("PT", 78000)]


def test_portugal_five_working_days_is_780_euros():
    q = quote("PT", 5, "physical", 900.0, TODAY, shipped_table())
    assert q.amount_cents == 78000
    assert q.full_rate_cents == 78000
    assert texts(q) == ["Full rate for a stay in Portugal: €780.00"]
    assert (q.rate_version, q.rate_valid_from) == (1, date(2014, 1, 1))
    assert q.to_dict()["rules"] == [{"code": "full_rate",
                                     "text": "Full rate for a stay in Portugal: €780.00"}]
    assert q.to_dict()["rate_valid_from"] == "2014-01-01"


def test_portugal_three_working_days_is_390_euros():
    q = quote("PT", 3, "physical", 900.0, TODAY, shipped_table())
    assert q.amount_cents == 39000
    assert "Halved: 3 working days is under 5" in texts(q)


def test_organisations_180_km_apart_halve_the_rate():
    q = quote("PT", 5, "physical", 180.0, TODAY, PT_TABLE)
    assert q.amount_cents == 39000
    assert "Halved: the organisations are 180 km apart, under 200 km" in texts(q)


def test_short_stay_and_short_distance_halve_once():
    q = quote("PT", 3, "physical", 50.0, TODAY, PT_TABLE)
    assert q.amount_cents == 39000
    assert [r.code for r in q.rules] == ["full_rate", "halved_short_stay", "halved_distance", "halved_once"]


def test_exactly_five_days_and_exactly_200_km_are_not_halved():
    assert amount(working_days=5, distance_km=200.0) == 78000
    assert amount(distance_km=199.9) == 39000


def test_distance_just_under_the_limit_is_not_shown_as_the_limit():
    q = quote("PT", 5, "physical", 199.6, TODAY, PT_TABLE)
    assert "Halved: the organisations are 199.6 km apart, under 200 km" in texts(q)


def test_thresholds_are_configurable():
    assert amount(working_days=6, short_stay_days=7) == 39000
    assert amount(distance_km=250.0, min_distance_km=300) == 39000


def test_virtual_exchange_carries_no_lump_sum_even_without_a_rate():
    q = quote("FR", 5, "virtual", None, TODAY, PT_TABLE)
    assert q.amount_cents == 0
    assert texts(q) == ["Virtual exchanges carry no travel lump sum"]


def test_unknown_distance_is_said_and_does_not_halve():
    q = quote("PT", 5, "physical", None, TODAY, PT_TABLE)
    assert q.amount_cents == 78000
    assert [r.code for r in q.rules] == ["full_rate", "distance_unknown"]


def test_host_country_without_a_rate_is_a_clear_error_naming_it():
    with pytest.raises(NoLumpSumRate) as raised:
        quote("FR", 5, "physical", 900.0, TODAY, shipped_table())
    assert isinstance(raised.value, ValidationFailed) and raised.value.status == 422
    assert "France (FR)" in raised.value.detail
    assert "host_country" in raised.value.errors


def test_a_date_outside_the_rate_period_has_no_rate():
    table = LumpSumTable((LumpSumRate("PT", 78000, date(2024, 1, 1), date(2024, 12, 31)),))
    with pytest.raises(NoLumpSumRate):
        table.rate_on("PT", date(2025, 1, 1))
    assert table.rate_on("PT", date(2024, 12, 31)).amount_cents == 78000


def test_halving_an_odd_figure_floors_to_the_cent():
    table = LumpSumTable((LumpSumRate("PT", 78001, date(2014, 1, 1)),))
    assert quote("PT", 3, "physical", None, TODAY, table).amount_cents == 39000


def test_quote_never_exceeds_a_lowered_threshold():
    q = quote("PT", 5, "physical", 900.0, TODAY, PT_TABLE, threshold_cents=50000)
    assert q.amount_cents == 50000
    assert "Capped at the programme threshold of €500.00" in texts(q)


def test_no_rate_may_exceed_the_threshold():
    with pytest.raises(RateAboveThreshold):
        LumpSumTable((LumpSumRate("PT", 110001, date(2014, 1, 1)),))
    LumpSumTable((LumpSumRate("PT", 110000, date(2014, 1, 1)),))
    with pytest.raises(RateAboveThreshold):
        shipped_table(threshold_cents=70000)


def test_overlapping_periods_are_refused():
    with pytest.raises(OverlappingRates):
        LumpSumTable((LumpSumRate("PT", 78000, date(2014, 1, 1)),
                      LumpSumRate("PT", 80000, date(2025, 1, 1))))


@pytest.mark.parametrize("bad", [780.0, "78000", True, 0, -1])
def test_amounts_are_whole_positive_cents(bad):
    with pytest.raises(ValidationFailed):
        LumpSumTable((LumpSumRate("PT", bad, date(2014, 1, 1)),))


@pytest.mark.parametrize("kwargs", [{"working_days": 0}, {"mode": "hybrid"}, {"distance_km": -1.0}])
def test_bad_quote_inputs_are_refused(kwargs):
    with pytest.raises(ValidationFailed):
        amount(**kwargs)


def test_an_administrator_change_closes_the_old_figure_and_records_old_and_new():
    at = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    table, change = PT_TABLE.with_rate("PT", 80000, date(2027, 1, 1), "admin-1", at, "new call")
    assert (change.old_amount_cents, change.new_amount_cents) == (78000, 80000)
    assert (change.changed_by, change.changed_at, change.country) == ("admin-1", at, "PT")
    assert table.rate_on("PT", date(2026, 12, 31)).amount_cents == 78000
    new = table.rate_on("PT", date(2027, 1, 1))
    assert (new.amount_cents, new.version, new.valid_to) == (80000, 2, None)
    assert PT_TABLE.rate_on("PT", date(2027, 1, 1)).amount_cents == 78000  # the old table is unchanged


def test_a_first_rate_for_a_new_country_records_no_old_amount():
    table, change = PT_TABLE.with_rate("FR", 90000, date(2026, 1, 1), "admin-1", datetime.now(UTC))
    assert change.old_amount_cents is None
    assert table.rate_on("FR", TODAY).amount_cents == 90000


def test_a_change_above_the_threshold_is_refused():
    with pytest.raises(RateAboveThreshold) as raised:
        PT_TABLE.with_rate("PT", 120000, date(2027, 1, 1), "admin-1", datetime.now(UTC))
    assert "€1,200.00" in raised.value.detail and "€1,100.00" in raised.value.detail


def test_a_change_on_the_first_day_of_a_figure_replaces_it():
    table, _ = PT_TABLE.with_rate("PT", 77000, date(2014, 1, 1), "admin-1", datetime.now(UTC))
    assert [(r.amount_cents, r.version) for r in table.history("PT")] == [(77000, 2)]


def test_euros_format():
    assert euros(78000) == "€780.00"
    assert euros(110000) == "€1,100.00"
    assert euros(5) == "€0.05"
    assert euros(-150) == "-€1.50"
