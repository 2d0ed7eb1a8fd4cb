"""The dashboards' figures over HTTP: registrations, exchanges and payments counted by the
service that owns them, a partnership's budget over time, and who may see which."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest

from tests.e2e.test_exchange_journey import _next_weekday, _plan, _signed_pt_exchange, _stranger
from tests.helpers import login, make_account, partnership_id, unique_email

pytestmark = pytest.mark.e2e

ROUTES = ("/api/v1/statistics/registrations", "/api/v1/statistics/exchanges",
          "/api/v1/statistics/payments")


def _count(items: list[dict[str, Any]], key: str) -> int:
    return next((item["count"] for item in items if item["key"] == key), 0)


def test_an_exchange_made_ready_shows_in_every_statistic_and_the_budget_history(
        api, db_engines, tokens, agreements_container, lump_sum_table):
    admin = {"Authorization": f"Bearer {tokens.issue(str(uuid.uuid4()), ['admin'], None, None)[0]}"}
    start = _next_weekday(date.today() + timedelta(days=60), 0)
    exchange_id, path, parties, texcirc = _signed_pt_exchange(api, db_engines, _plan(start))
    greenmob = partnership_id(db_engines["registration"], "GREENMOB")
    before = api.get("/api/v1/statistics/exchanges", params={"partnership_id": texcirc},
                     headers=admin).json()
    assert api.put(f"/api/v1/budgets/{texcirc}", json={"budget_cents": 500_000},
                   headers=admin).status_code == 200
    fa_path = f"{path}/financial-agreement"
    api.put(f"{fa_path}/bank-account", json={"account_holder": "Textil Cluster Süd",
                                             "iban": "DE89 3704 0044 0532 0130 00"},
            headers=parties["visitor"])
    api.post(f"{fa_path}/signatures", headers=parties["visitor"])
    assert api.post(f"{fa_path}/signatures", headers=parties["vop"]).json()["status"] == "ready"

    # Exchanges: the contact point sees its partnership's, by state and month of start.
    mine = api.get("/api/v1/statistics/exchanges", headers=parties["vop"])
    assert mine.status_code == 200, mine.text
    figures = mine.json()
    assert figures["partnership_id"] == texcirc
    assert _count(figures["by_state"], "ready") == _count(before["by_state"], "ready") + 1
    month = next(m for m in figures["by_month"] if m["month"] == start.isoformat()[:7])
    assert month["states"]["ready"] >= 1 and month["count"] >= 1
    pt = next(row for row in figures["lump_sums_by_host_country"] if row["host_country"] == "PT")
    assert pt["committed_cents"] >= 78_000 and pt["committed_cents"] % 100 == 0
    # The host's partnership sees the exchange too, but not the visitor's money.
    hosting = api.get("/api/v1/statistics/exchanges", headers=parties["hop"]).json()
    assert hosting["partnership_id"] == greenmob and _count(hosting["by_partnership"], texcirc) >= 1

    # Payments: its own partnership's envelope, in integer cents.
    money = api.get("/api/v1/statistics/payments", headers=parties["vop"]).json()
    [row] = money["by_partnership"]
    budget = api.get(f"/api/v1/budgets/{texcirc}", headers=parties["vop"]).json()
    assert row["reserved_cents"] == budget["reserved_cents"] >= 78_000
    assert money["totals"]["available_cents"] == budget["available_cents"]
    programme = api.get("/api/v1/statistics/payments", headers=admin).json()
    assert programme["partnership_id"] is None
    assert programme["totals"]["budget_cents"] >= budget["budget_cents"]

    # The budget's history ends on today's balance; weekly points fall on Mondays.
    history = api.get(f"/api/v1/budgets/{texcirc}/history", headers=parties["vop"])
    assert history.status_code == 200, history.text
    last = history.json()["points"][-1]
    assert last["date"] == date.today().isoformat()
    assert {key: last[key] for key in ("budget_cents", "reserved_cents", "paid_cents",
                                       "available_cents")} == {
        key: budget[key] for key in ("budget_cents", "reserved_cents", "paid_cents", "available_cents")}
    weekly = api.get(f"/api/v1/budgets/{texcirc}/history", params={"interval": "week"},
                     headers=admin).json()
    assert weekly["interval"] == "week"
    assert all(date.fromisoformat(p["date"]).weekday() == 0 for p in weekly["points"][1:])
    assert weekly["points"][-1]["reserved_cents"] == budget["reserved_cents"]

    # Registrations: both sides were submitted and accepted.
    registrations = api.get("/api/v1/statistics/registrations", headers=admin).json()
    assert _count(registrations["by_status"], "accepted") >= 2
    assert _count(registrations["by_country"], "PT") >= 1
    assert _count(registrations["by_partnership"], greenmob) >= 1
    assert registrations["by_sector"] and registrations["total"] >= 2


def test_only_administrators_and_the_partnerships_own_contact_point_see_figures(api, db_engines,
                                                                                tokens):
    texcirc = partnership_id(db_engines["registration"], "TEXCIRC")
    greenmob = partnership_id(db_engines["registration"], "GREENMOB")
    contact_email = unique_email("contact")
    make_account(db_engines["registration"], contact_email, ["partnership_contact"], "GREENMOB")
    contact = login(api, contact_email)
    _, participant = _stranger(api)
    agent_email = unique_email("agent")
    make_account(db_engines["registration"], agent_email, ["support_agent"])
    agent = login(api, agent_email)
    admin = {"Authorization": f"Bearer {tokens.issue(str(uuid.uuid4()), ['admin'], None, None)[0]}"}
    for route in ROUTES:
        assert api.get(route).status_code == 401
        for who in (participant, agent):
            refused = api.get(route, headers=who)
            assert refused.status_code == 403, (route, refused.text)
            assert refused.headers["Content-Type"].startswith("application/problem+json")
        own = api.get(route, headers=contact)
        assert own.status_code == 200 and own.json()["partnership_id"] == greenmob
        assert api.get(route, params={"partnership_id": greenmob}, headers=contact).status_code == 200
        foreign = api.get(route, params={"partnership_id": texcirc}, headers=contact)
        assert foreign.status_code == 403, (route, foreign.text)
        assert api.get(route, params={"partnership_id": texcirc},
                       headers=admin).json()["partnership_id"] == texcirc
        assert api.get(route, params={"nonsense": "1"}, headers=admin).status_code == 422
    # A partnership nobody registered with: empty figures, not an error.
    nobody = str(uuid.uuid4())
    empty = api.get("/api/v1/statistics/exchanges", params={"partnership_id": nobody},
                    headers=admin).json()
    assert empty["total"] == 0 and empty["by_month"] == [] and empty["by_state"] == []
    assert api.get("/api/v1/statistics/payments", params={"partnership_id": nobody},
                   headers=admin).json()["totals"]["budget_cents"] == 0
    history = api.get(f"/api/v1/budgets/{nobody}/history", headers=admin).json()
    assert {p["available_cents"] for p in history["points"]} == {0}

    # The budget's history: another partnership's is not found, other roles are refused.
    assert api.get(f"/api/v1/budgets/{texcirc}/history", headers=contact).status_code == 404
    assert api.get(f"/api/v1/budgets/{greenmob}/history", headers=contact).status_code == 200
    assert api.get(f"/api/v1/budgets/{greenmob}/history", headers=participant).status_code == 403
    backwards = api.get(f"/api/v1/budgets/{greenmob}/history",
                        params={"from": "2026-05-01", "to": "2026-04-01"}, headers=contact)
    assert backwards.status_code == 422 and "from" in backwards.json()["errors"]
