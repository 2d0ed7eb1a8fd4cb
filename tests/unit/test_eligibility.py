"""Eligibility rules, each explained field by field."""

from __future__ import annotations

from datetime import date

import pytest

from services.registration.domain import (
    CountryPeriod,
    age_on,
    check_eligibility,
    failures_by_field,
)

TODAY = date(2026, 11, 25)
PERIODS = [
    CountryPeriod("PT", date(2014, 1, 1), None),
    CountryPeriod("DE", date(2014, 1, 1), None),
    CountryPeriod("UA", date(2014, 1, 1), None),
    CountryPeriod("GB", date(2014, 1, 1), date(2020, 1, 31)),
]


def complete(**changes) -> dict:
    reg = {
        "roles": ["visitor"],
        "organisation": {"name": "CTN", "type": "cluster_organisation", "country": "PT",
                         "city": "Porto", "cluster_member": False},
        "representative": {"first_name": "Ana", "last_name": "F", "email": "a@b.eu",
                           "date_of_birth": "1990-01-01", "nationality": "PT"},
        "motivation": "Learn.",
        "preferences": {"sectors": ["textiles"], "objectives": ["learn"],
                        "activity_types": ["networking"], "languages": ["pt"],
                        "availability": [{"start": "2027-01-01", "end": "2027-02-01"}],
                        "modes": ["physical"]},
        "cv": "cv/key",
    }
    for path, value in changes.items():
        target = reg
        *parents, leaf = path.split("__")
        for parent in parents:
            target = target[parent]
        target[leaf] = value
    return reg


def errors(reg: dict, day: date = TODAY) -> dict[str, list[str]]:
    return failures_by_field(check_eligibility(reg, PERIODS, day))


def test_complete_eligible_registration_passes_every_rule():
    results = check_eligibility(complete(), PERIODS, TODAY)
    assert all(r.passed for r in results)
    assert {r.rule for r in results} >= {"complete", "country_participates", "adult",
                                         "representative_link"}


@pytest.mark.parametrize("org_type", ["large_company", "public_authority"])
def test_large_companies_and_public_authorities_may_only_host(org_type):
    assert "roles" in errors(complete(organisation__type=org_type))
    assert "roles" not in errors(complete(organisation__type=org_type, roles=["host"]))


@pytest.mark.parametrize("org_type", ["sme", "incubator", "fab_lab", "research_institute"])
def test_smes_and_support_organisations_must_be_cluster_members(org_type):
    assert "organisation.cluster_member" in errors(complete(organisation__type=org_type))
    member = complete(organisation__type=org_type, organisation__cluster_member=True)
    member["organisation"]["cluster_name"] = "Porto Textile Cluster"
    assert errors(member) == {}


def test_cluster_organisation_needs_no_membership():
    assert "organisation.cluster_member" not in errors(complete())


def test_organisation_outside_the_programme_is_refused():
    found = errors(complete(organisation__country="US"))
    assert "does not participate" in found["organisation.country"][0]


def test_country_participation_follows_its_dates():
    assert "organisation.country" in errors(complete(organisation__country="GB"))
    assert "organisation.country" not in errors(complete(organisation__country="GB"),
                                                 date(2019, 6, 1))


def test_representative_must_be_adult_on_the_day():
    assert "representative.date_of_birth" in errors(
        complete(representative__date_of_birth="2008-11-26"))
    assert "representative.date_of_birth" not in errors(
        complete(representative__date_of_birth="2008-11-25"))


def test_age_counts_birthdays():
    assert age_on(date(2000, 2, 29), date(2018, 2, 28)) == 17
    assert age_on(date(2000, 2, 29), date(2018, 3, 1)) == 18


def test_foreign_national_needs_183_days_and_a_permit():
    foreign = complete(representative__nationality="US")
    assert "representative.nationality" in errors(foreign)
    foreign["representative"].update(residence_country="DE", residence_days=183,
                                     residence_permit=True)
    assert errors(foreign) == {}
    foreign["representative"]["residence_days"] = 182
    assert "representative.nationality" in errors(foreign)
    foreign["representative"].update(residence_days=400, residence_permit=False)
    assert "representative.nationality" in errors(foreign)


def test_missing_fields_are_named():
    reg = complete(motivation="", cv=None)
    reg["preferences"]["sectors"] = []
    found = errors(reg)
    assert set(found) == {"motivation", "cv", "preferences.sectors"}
    assert found["cv"] == ["Please provide a CV (PDF or DOCX)."]


def test_host_capacity_must_be_positive():
    reg = complete(roles=["host"])
    reg["preferences"]["host_capacity"] = 0
    assert "preferences.host_capacity" in errors(reg)
