"""The payments service's permission rules, worker by worker (nameko's worker_factory) on a
real SQLite database: who may quote, see or check a budget, set it, change the table."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from unittest.mock import MagicMock

import pytest
from nameko.testing.services import worker_factory
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from common.auth import Caller
from common.errors import NotAllowed, NotFound, ValidationFailed
from services.payments import repository
from services.payments.exceptions import NoLumpSumRate
from services.payments.lump_sums import shipped_table
from services.payments.models import Base
from services.payments.places import Places
from services.payments.service import PaymentsService

P = "11111111-1111-1111-1111-111111111111"
OTHER = "22222222-2222-2222-2222-222222222222"
AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path) -> Iterator[Any]:
    engine = create_engine(f"sqlite:///{tmp_path / 'payments.db'}")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        repository.seed_rates(session, shipped_table())
        repository.set_budget(session, P, 100_000, "budget-1", AT)
        repository.reserve(session, P, "exchange-1", 39_000, "event-1", AT)
        session.commit()
    yield engine
    engine.dispose()


def caller(*roles: str, partnership: str | None = None) -> Caller:
    return Caller(str(uuid.uuid4()), frozenset(roles), None, partnership, token="token")


def worker(engine: Any, who: Caller, rpc: Any = None) -> PaymentsService:
    session = Session(engine)
    db = SimpleNamespace(session=session, reader=session)
    return worker_factory(PaymentsService, db=db, auth=SimpleNamespace(caller=who),
                          rpc_client=rpc or MagicMock(), config={}, idempotency=_NoKeys(),
                          places=Places(5000))


class _NoKeys:
    def run(self, session, key, scope, operation, request, effect):  # noqa: ANN001 - test double
        result = effect()
        session.commit()
        return result


def registration_answers(**methods: Any) -> MagicMock:
    rpc = MagicMock()
    rpc.call.side_effect = lambda service, method, *args, **kwargs: methods[method](*args)
    return rpc


def profile(registration_id: str, country: str, latitude: float | None, longitude: float | None,
            city: str = "Somewhere") -> dict[str, Any]:
    return {"registration_id": registration_id, "organisation": {
        "country": country, "city": city, "latitude": latitude, "longitude": longitude}}


# --- budgets -----------------------------------------------------------------------------

def test_an_administrator_and_the_partnerships_contact_point_see_its_budget(engine):
    for who in (caller("admin"), caller("partnership_contact", partnership=P)):
        budget = worker(engine, who).get_budget(P)
        assert (budget["budget_cents"], budget["reserved_cents"], budget["available_cents"]) == \
            (100_000, 39_000, 61_000)
        assert budget["kpis"]["reserved"] == {"exchanges": 1, "amount_cents": 39_000}


@pytest.mark.parametrize("who", [caller("partnership_contact", partnership=OTHER),
                                 caller("participant"), caller("support_agent")],
                         ids=["other contact point", "participant", "support agent"])
def test_nobody_else_learns_that_a_budget_exists(engine, who):
    with pytest.raises(NotFound):
        worker(engine, who).get_budget(P)


def test_a_contact_point_may_not_set_its_own_budget_and_others_do_not_see_it(engine):
    with pytest.raises(NotAllowed):
        worker(engine, caller("partnership_contact", partnership=P)).set_budget(P, {"budget_cents": 1})
    with pytest.raises(NotFound):
        worker(engine, caller("partnership_contact", partnership=OTHER)).set_budget(
            P, {"budget_cents": 1})


def test_an_administrator_sets_a_budget_of_a_partnership_registration_knows(engine):
    rpc = registration_answers(get_partnership=lambda pid: {"id": pid})
    budget = worker(engine, caller("admin"), rpc).set_budget(OTHER, {"budget_cents": 500_000})
    assert budget["budget_cents"] == budget["available_cents"] == 500_000
    rpc.call.assert_called_once_with("registration", "get_partnership", OTHER, auth_token="token")


def test_a_budget_amount_must_be_whole_cents(engine):
    rpc = registration_answers(get_partnership=lambda pid: {"id": pid})
    with pytest.raises(ValidationFailed) as raised:
        worker(engine, caller("admin"), rpc).set_budget(P, {"budget_cents": 1000.5})
    assert "budget_cents" in raised.value.errors


def test_a_contact_point_lists_only_its_own_budget(engine):
    with Session(engine) as session:
        repository.set_budget(session, OTHER, 1_000, "budget-2", AT)
        session.commit()
    assert [b["partnership_id"] for b in worker(engine, caller("admin")).list_budgets()["items"]] == \
        [P, OTHER]
    own = worker(engine, caller("partnership_contact", partnership=OTHER)).list_budgets()
    assert [b["partnership_id"] for b in own["items"]] == [OTHER] and own["total"] == 1
    with pytest.raises(NotAllowed):
        worker(engine, caller("participant")).list_budgets()


# --- the budget check agreements asks for ---------------------------------------------------

def test_the_contact_point_learns_whether_an_amount_fits_and_what_is_available(engine):
    check = worker(engine, caller("partnership_contact", partnership=P)).check_budget(P, 61_000)
    assert check == {"fits": True, "available_cents": 61_000, "detail": None}
    check = worker(engine, caller("admin")).check_budget(P, 61_001)
    assert check["fits"] is False and check["available_cents"] == 61_000
    assert "€610.00" in check["detail"]


def test_a_visitor_of_the_partnership_learns_only_whether_it_fits(engine):
    mine = registration_answers(list_registrations=lambda query: {"items": [{"partnership_id": P}]})
    check = worker(engine, caller("participant"), mine).check_budget(P, 78_000)
    assert check["fits"] is False and check["available_cents"] is None
    assert "610" not in check["detail"]
    assert worker(engine, caller("participant"), mine).check_budget(P, 39_000)["fits"] is True


def test_a_participant_of_another_partnership_cannot_probe_a_budget(engine):
    theirs = registration_answers(
        list_registrations=lambda query: {"items": [{"partnership_id": OTHER}]})
    with pytest.raises(NotFound):
        worker(engine, caller("participant"), theirs).check_budget(P, 1)
    with pytest.raises(NotFound):
        worker(engine, caller("partnership_contact", partnership=OTHER)).check_budget(P, 1)


def test_a_partnership_without_an_envelope_fits_nothing(engine):
    check = worker(engine, caller("admin")).check_budget(OTHER, 1)
    assert check["fits"] is False and "no budget envelope" in check["detail"]


# --- quotes ----------------------------------------------------------------------------------

def test_a_quote_for_an_exchange_needs_a_visitor_registration_the_caller_sees(engine):
    nothing = registration_answers(get_public_profiles=lambda ids: [])
    with pytest.raises(NotFound):
        worker(engine, caller("participant"), nothing).quote_for_exchange({
            "host_country": "PT", "working_days": 5, "mode": "physical",
            "visitor_registration_id": "v", "host_registration_id": "h"})


def test_a_host_the_caller_cannot_see_leaves_the_distance_unknown_not_halved(engine):
    only_visitor = registration_answers(
        get_public_profiles=lambda ids: [profile("v", "DE", 52.52, 13.40)])
    quote = worker(engine, caller("participant"), only_visitor).quote_for_exchange({
        "host_country": "PT", "working_days": 5, "mode": "physical",
        "visitor_registration_id": "v", "host_registration_id": "h", "on_date": "2026-12-01"})
    assert quote["amount_cents"] == 78_000 and quote["distance_km"] is None
    assert "distance_unknown" in [rule["code"] for rule in quote["rules"]]


def test_organisations_180_km_apart_halve_the_lump_sum(engine):
    near = registration_answers(get_public_profiles=lambda ids: [
        profile("v", "PT", 41.15, -8.61), profile("h", "PT", 39.55, -8.61)])
    quote = worker(engine, caller("admin"), near).quote_for_exchange({
        "host_country": "PT", "working_days": 5, "mode": "physical",
        "visitor_registration_id": "v", "host_registration_id": "h"})
    assert 170 < quote["distance_km"] < 190
    assert quote["amount_cents"] == 39_000 and quote["halved"] is True


def test_the_public_quote_needs_no_caller_and_names_a_country_without_a_rate(engine):
    nobody = SimpleNamespace(caller=None)
    service = worker_factory(PaymentsService, db=SimpleNamespace(reader=Session(engine)),
                             auth=nobody, config={})
    assert service.quote({"host_country": "PT", "working_days": 3})["amount_cents"] == 39_000
    with pytest.raises(NoLumpSumRate) as raised:
        service.quote({"host_country": "IS", "working_days": 5})
    assert "Iceland (IS)" in raised.value.detail and raised.value.status == 422


# --- the lump-sum table ------------------------------------------------------------------------

def test_only_an_administrator_changes_the_table_and_the_change_is_recorded(engine):
    with pytest.raises(NotAllowed):
        worker(engine, caller("partnership_contact", partnership=P)).set_lump_sum(
            {"country": "DE", "amount_cents": 90_000})
    admin = caller("admin")
    result = worker(engine, admin).set_lump_sum({"country": "DE", "amount_cents": 90_000,
                                                 "valid_from": "2026-01-01", "reason": "decided"})
    assert result["rate"]["amount_cents"] == 90_000 and result["rate"]["country_name"] == "Germany"
    assert result["change"]["old_amount_cents"] is None and result["change"]["changed_by"] == admin.account_id
    table = worker(engine, caller("participant")).list_lump_sums()
    assert {(r["country"], r["amount_cents"]) for r in table["rates"]} == {("DE", 90_000), ("PT", 78_000)}
    with pytest.raises(NotAllowed):
        worker(engine, caller("participant")).list_lump_sum_changes()
    assert len(worker(engine, admin).list_lump_sum_changes({"country": "DE"})) == 1


def test_no_figure_above_the_threshold_or_outside_the_programme(engine):
    admin = worker(engine, caller("admin"))
    with pytest.raises(ValidationFailed):
        admin.set_lump_sum({"country": "DE", "amount_cents": 110_001})
    with pytest.raises(ValidationFailed) as raised:
        admin.set_lump_sum({"country": "US", "amount_cents": 50_000})
    assert "country" in raised.value.errors


def test_organisations_registered_without_coordinates_are_placed_by_their_city(engine):
    by_city = registration_answers(get_public_profiles=lambda ids: [
        profile("v", "PT", None, None, city="Porto"), profile("h", "PT", None, None, city="Lisboa")])
    quote = worker(engine, caller("admin"), by_city).quote_for_exchange({
        "host_country": "PT", "working_days": 5, "mode": "physical",
        "visitor_registration_id": "v", "host_registration_id": "h"})
    assert 250 < quote["distance_km"] < 300 and quote["amount_cents"] == 78_000
