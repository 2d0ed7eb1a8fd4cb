"""The dashboards' pages over HTTP: a contact point's budget with its charts and tables, the
administrators' programme dashboard and partnership picker, and everyone else refused."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.helpers import login, make_account, partnership_id, sign_up, unique_email
from tests.web.test_pages import _use_session

pytestmark = [pytest.mark.web, pytest.mark.e2e]


def _charts_are_accessible(page: str) -> list[str]:
    """Every chart: role=img, labelled by its own title and description, with a table."""
    svgs = re.findall(r"<svg [^>]*>", page)
    assert svgs
    for svg in svgs:
        if 'role="img"' not in svg:  # the bell's icon and the like
            assert 'aria-hidden="true"' in svg
            continue
        chart = re.search(r'aria-labelledby="([\w-]+)-title \1-desc"', svg).group(1)
        assert f'<title id="{chart}-title">' in page and f'<desc id="{chart}-desc">' in page
    return [svg for svg in svgs if 'role="img"' in svg]


def test_a_contact_point_sees_its_budget_over_time_and_its_exchanges(api, db_engines, tokens):
    texcirc = partnership_id(db_engines["registration"], "TEXCIRC")
    admin = {"Authorization": f"Bearer {tokens.issue(str(uuid.uuid4()), ['admin'], None, None)[0]}"}
    assert api.put(f"/api/v1/budgets/{texcirc}", json={"budget_cents": 1_234_500},
                   headers=admin).status_code == 200
    email = unique_email("contact")
    make_account(db_engines["registration"], email, ["partnership_contact"], "TEXCIRC")
    _use_session(api, login(api, email))

    page = api.get("/contact-point/budget")
    assert page.status_code == 200, page.text[:500]
    assert 'href="/contact-point/budget" aria-current="page"' in page.text
    assert len(_charts_are_accessible(page.text)) == 3
    assert "€12,345.00" in page.text  # the envelope, and the history's table
    # each chart's figures as a table, or a sentence when there are none
    assert page.text.count("<details") + page.text.count("No figures yet.") == 3
    assert "<table" in page.text
    assert 'name="partnership_id"' not in page.text  # no picker: its own partnership only
    assert "/admin/dashboard" not in page.text
    assert api.get("/admin/dashboard").status_code == 403


def test_an_administrator_picks_a_partnership_and_sees_the_programme(api, db_engines):
    greenmob = partnership_id(db_engines["registration"], "GREENMOB")
    email = unique_email("admin")
    make_account(db_engines["registration"], email, ["admin"])
    _use_session(api, login(api, email))

    picked = api.get("/contact-point/budget", params={"partnership_id": greenmob})
    assert picked.status_code == 200, picked.text[:500]
    assert f'<option value="{greenmob}" selected>' in picked.text
    assert 'href="/admin/dashboard"' in picked.text
    unknown = api.get("/contact-point/budget", params={"partnership_id": "<script>"})
    assert unknown.status_code == 200 and "<script>" not in unknown.text

    dashboard = api.get("/admin/dashboard")
    assert dashboard.status_code == 200, dashboard.text[:500]
    assert len(_charts_are_accessible(dashboard.text)) == 10
    for heading in ("Registrations by sector", "Exchanges by host country",
                    "Committed and paid by partnership", "Exchanges per month of start"):
        assert heading in dashboard.text


def test_participants_have_no_budget_or_dashboard(api):
    _email, headers = sign_up(api)
    _use_session(api, headers)
    assert api.get("/contact-point/budget").status_code == 403
    assert api.get("/admin/dashboard").status_code == 403
    api.cookies.clear()
    assert api.get("/admin/dashboard", allow_redirects=False).status_code == 303
