"""Who may form an exchange, and who is who in one."""

from __future__ import annotations

import pytest

from common.auth import Caller
from common.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from services.agreements.domain import (
    ExchangeParties,
    Side,
    check_pair,
    check_visits_and_capacity,
    ensure_visible,
    format_reference,
    signing_party,
)


def side(name: str, country: str, roles=("visitor",), status="accepted", capacity=1) -> Side:
    return Side(f"reg-{name}", f"acc-{name}", f"org-{name}", name, country, f"p-{name}",
                frozenset(roles), status, capacity)


def test_a_visitor_and_a_host_in_two_countries_form_a_pair():
    check_pair(side("a", "PT"), side("b", "DE", ("host",)))


def test_a_same_country_pair_is_refused_naming_the_rule():
    with pytest.raises(ValidationFailed) as refused:
        check_pair(side("a", "PT"), side("b", "PT", ("host",)))
    assert "another country" in refused.value.errors["host_registration_id"][0]


def test_roles_must_fit():
    with pytest.raises(ValidationFailed):
        check_pair(side("a", "PT", ("host",)), side("b", "DE", ("host",)))
    with pytest.raises(ValidationFailed):
        check_pair(side("a", "PT"), side("b", "DE", ("visitor",)))


def test_both_registrations_must_be_accepted():
    with pytest.raises(Conflict, match="withdrawn"):
        check_pair(side("a", "PT", status="withdrawn"), side("b", "DE", ("host",)))


def test_an_organisation_visits_at_most_once():
    with pytest.raises(Conflict, match="at most once"):
        check_visits_and_capacity(1, 0, side("b", "DE", ("host",)))


def test_a_host_hosts_up_to_its_capacity():
    host = side("b", "DE", ("host",), capacity=2)
    check_visits_and_capacity(0, 1, host)
    with pytest.raises(Conflict, match="capacity"):
        check_visits_and_capacity(0, 2, host)


PARTIES = ExchangeParties("acc-vo", "acc-ho", "p-vo", "p-ho")


def caller(account: str, *roles: str, partnership: str | None = None) -> Caller:
    return Caller(account, frozenset(roles), None, partnership)


def test_each_caller_sees_their_own_part():
    assert PARTIES.of(caller("acc-vo", "participant")) == {"vo"}
    assert PARTIES.of(caller("acc-ho", "participant")) == {"ho"}
    assert PARTIES.of(caller("cp1", "partnership_contact", partnership="p-vo")) == {"vop"}
    assert PARTIES.of(caller("cp2", "partnership_contact", partnership="p-ho")) == {"hop"}
    assert PARTIES.of(caller("root", "admin")) == {"admin"}


def test_strangers_and_contact_points_without_a_partnership_see_nothing():
    for stranger in (caller("x", "participant"), caller("cp", "partnership_contact"),
                     caller("cp", "partnership_contact", partnership="p-other"),
                     caller("agent", "support_agent")):
        with pytest.raises(NotFound):
            ensure_visible(PARTIES.of(stranger))


def test_a_partnership_of_both_sides_is_vop_and_hop():
    same = ExchangeParties("acc-vo", "acc-ho", "p", "p")
    assert same.of(caller("cp", "partnership_contact", partnership="p")) == {"vop", "hop"}


def test_the_host_signing_for_the_visitor_is_refused():
    with pytest.raises(NotAllowed):
        signing_party("vo", frozenset({"ho"}))
    assert signing_party(None, frozenset({"ho"})) == "ho"
    with pytest.raises(ValidationFailed):
        signing_party(None, frozenset({"vop", "hop"}))
    assert signing_party("hop", frozenset({"vop", "hop"})) == "hop"


def test_references_are_what_people_quote():
    assert format_reference(2026, 123) == "CXC-2026-000123"
