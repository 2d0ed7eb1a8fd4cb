"""The administrators' pages over plain HTTP (the lump-sum table, budgets and the bank account
of payment runs), an exchange's steps in words, and the account page's "sign out everywhere"."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

import pytest

from gateway.web.session import SESSION_COOKIE
from tests.e2e.test_exchange_journey import _next_weekday, _plan, _signed_pt_exchange, _stranger
from tests.helpers import login, make_account, partnership_id, sign_up, unique_email

pytestmark = [pytest.mark.web, pytest.mark.e2e]




def _as(api, headers: dict[str, str]) -> None:
    api.cookies.set(SESSION_COOKIE, headers["Authorization"].split()[1],
                    domain=api.base.split("//")[1].split(":")[0])


def _csrf(api, path: str) -> str:
    page = api.get(path)
    assert page.status_code == 200, page.text[-500:]
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


@pytest.fixture
def admin(api, db_engines) -> dict[str, str]:
    email = unique_email("admin")
    make_account(db_engines["registration"], email, ["admin"])
    return login(api, email)


@pytest.fixture
def greenmob(db_engines) -> str:
    return partnership_id(db_engines["registration"], "GREENMOB")


def test_only_administrators_reach_the_administration(api, db_engines, admin, greenmob):
    _email, participant = sign_up(api)
    contact_email = unique_email("contact")
    make_account(db_engines["registration"], contact_email, ["partnership_contact"], "GREENMOB")
    contact = login(api, contact_email)
    for who in (participant, contact):
        _as(api, who)
        token = _csrf(api, "/dashboard" if who is participant else "/contact-point")
        assert 'href="/admin"' not in api.get("/").text
        for path in ("/admin", "/admin/lump-sums", "/admin/budgets", f"/admin/budgets/{greenmob}",
                     "/admin/lump-sums/quote?host_country=PT&working_days=5"):
            refused = api.get(path)
            assert refused.status_code == 403 and "Only administrators" in refused.text, path
        refused = api.post(f"/admin/budgets/{greenmob}", data={
            "csrf_token": token, "budget": "1000000", "version": "0"})
        assert refused.status_code == 403
    assert api.get(f"/api/v1/budgets/{greenmob}", headers=admin).status_code == 404  # nothing set

    _as(api, admin)
    index = api.get("/admin")
    assert index.status_code == 200 and 'href="/admin" aria-current="page"' in index.text
    assert 'href="/admin/lump-sums"' in index.text and 'href="/admin/budgets"' in index.text
    api.cookies.clear()
    assert api.get("/admin", allow_redirects=False).headers["Location"] == "/sign-in?next=/admin"


def test_the_lump_sum_table_takes_a_new_figure_with_errors_next_to_the_fields(
        api, admin, lump_sum_table):
    _as(api, admin)
    table = api.get("/admin/lump-sums")
    assert table.status_code == 200
    assert re.search(r"Portugal \(PT\)</th>\s*<td[^>]*>€780\.00", table.text)
    token = re.search(r'name="csrf_token" value="([^"]+)"', table.text).group(1)
    form = {"csrf_token": token, "country": "PT", "amount": "800", "reason": "New call."}
    assert api.post("/admin/lump-sums", data={**form, "csrf_token": ""}).status_code == 403

    not_euros = api.post("/admin/lump-sums", data={**form, "amount": "eight hundred"})
    assert not_euros.status_code == 422 and 'id="amount-error"' in not_euros.text
    assert 'aria-invalid="true"' in not_euros.text and 'value="eight hundred"' in not_euros.text
    above = api.post("/admin/lump-sums", data={**form, "amount": "5000",
                                               "idempotency_key": str(uuid.uuid4())})
    assert above.status_code == 422 and 'id="amount-error"' in above.text
    assert "above the programme threshold" in above.text
    unknown = api.post("/admin/lump-sums", data={**form, "country": "US",
                                                 "idempotency_key": str(uuid.uuid4())})
    assert unknown.status_code == 422 and 'id="country-error"' in unknown.text

    start = (date.today() + timedelta(days=30)).isoformat()
    key = str(uuid.uuid4())
    for _ in range(2):  # the form sent twice: one figure
        added = api.post("/admin/lump-sums", data={**form, "amount": "800.50",
                                                   "valid_from": start, "idempotency_key": key},
                         allow_redirects=False)
        assert added.status_code == 303, added.text[-800:]
        assert added.headers["Location"] == "/admin/lump-sums?country=PT#changes"
    trail = api.get("/admin/lump-sums?country=PT")
    assert trail.text.count("€780.00 → €800.50") == 1 and "New call." in trail.text
    assert f'<time datetime="{start}">' in trail.text and ">you<" in trail.text
    changes = api.get("/api/v1/lump-sums/changes?country=PT", headers=admin).json()
    assert [c["new_amount_cents"] for c in changes].count(80_050) == 1

    query = "?host_country=PT&working_days=5&distance_km=1500&mode=physical"
    partial = api.get(f"/admin/lump-sums/quote{query}", headers={"HX-Request": "true"})
    assert partial.status_code == 200 and "<html" not in partial.text
    assert "€780.00" in partial.text and "5 working days in Portugal" in partial.text
    short = api.get("/admin/lump-sums/quote?host_country=PT&working_days=3&distance_km=1500",
                    headers={"HX-Request": "true"})
    assert "€390.00" in short.text
    whole = api.get(f"/admin/lump-sums/quote{query}")
    assert whole.status_code == 200 and "<html" in whole.text and "€780.00" in whole.text
    missing = api.get("/admin/lump-sums/quote?host_country=PT", headers={"HX-Request": "true"})
    assert missing.status_code == 200 and "cxc-error" in missing.text


def test_a_budget_is_set_against_the_figures_read_and_a_stale_form_says_so(
        api, admin, greenmob):
    _as(api, admin)
    budgets = api.get("/admin/budgets")
    assert budgets.status_code == 200 and "No envelope yet" in budgets.text
    path = f"/admin/budgets/{greenmob}"
    page = api.get(path)
    assert page.status_code == 200 and 'name="version" value="0"' in page.text, page.text[-1500:]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)

    bad = api.post(path, data={"csrf_token": token, "budget": "lots", "version": "0"})
    assert bad.status_code == 422 and 'id="budget-error"' in bad.text
    assert 'aria-invalid="true"' in bad.text
    form = {"csrf_token": token, "budget": "10000", "version": "0",
            "idempotency_key": str(uuid.uuid4())}
    first = api.post(path, data=form, allow_redirects=False)
    assert first.status_code == 303 and first.headers["Location"] == path
    shown = api.get(path).text
    assert "€10,000.00" in shown and 'name="version" value="1"' in shown
    # Another administrator's form, opened before that change: refused, with today's figures.
    stale = api.post(path, data={**form, "budget": "2000", "idempotency_key": str(uuid.uuid4())})
    assert stale.status_code == 409
    assert "Someone set this envelope after you opened the page" in stale.text
    assert "The current figures" in stale.text and "€10,000.00" in stale.text
    assert 'name="version" value="1"' in stale.text and 'value="2000"' in stale.text
    assert api.get(f"/api/v1/budgets/{greenmob}", headers=admin).json()["budget_cents"] == 1_000_000
    again = api.post(path, data={**form, "budget": "12000.50", "version": "1",
                                 "idempotency_key": str(uuid.uuid4())}, allow_redirects=False)
    assert again.status_code == 303
    listed = api.get("/admin/budgets").text
    assert "€12,000.50" in listed

    account_path = f"{path}/debtor-account"
    wrong = api.post(account_path, data={"csrf_token": token, "name": "Green Mobility",
                                         "iban": "FR14 2004 1010 0505 0001 3M02 607"})
    assert wrong.status_code == 422 and 'id="iban-error"' in wrong.text
    assert 'value="Green Mobility"' in wrong.text
    empty = api.post(account_path, data={"csrf_token": token, "iban": ""})
    assert empty.status_code == 422 and 'id="name-error"' in empty.text
    saved = api.post(account_path, data={"csrf_token": token, "name": "Green Mobility",
                                         "iban": "FR14 2004 1010 0505 0001 3M02 606"},
                     allow_redirects=False)
    assert saved.status_code == 303
    shown = api.get(path).text
    account = shown.split('id="debtor-account"')[1].split("</dl>")[0]
    assert "Green Mobility" in account and "606" in account and "2004" not in account


def test_the_steps_of_an_exchange_in_words_for_its_parties_only(api, db_engines, lump_sum_table):
    start = _next_weekday(date.today() + timedelta(days=60), 0)
    exchange_id, _path, parties, _texcirc = _signed_pt_exchange(api, db_engines, _plan(start))
    for who in ("visitor", "vop"):
        _as(api, parties[who])
        page = api.get(f"/exchanges/{exchange_id}/timeline")
        assert page.status_code == 200
        steps = re.findall(r"<li class=\"cxc-timeline__step.*?</li>", page.text, re.S)
        assert len(steps) >= 8 and '<ol class="cxc-timeline"' in page.text
        assert "The visiting organisation proposed the exchange." in steps[0]
        assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT[^"]+">', steps[0])
        assert "The host organisation confirmed the proposal." in steps[1]
        assert "submitted the plan to both partnerships." in page.text
        assert "approved the plan." in page.text and "signed the commitment to quality." in page.text
    assert f'href="/exchanges/{exchange_id}/timeline"' in api.get(f"/exchanges/{exchange_id}").text
    _as(api, _stranger(api)[1])
    assert api.get(f"/exchanges/{exchange_id}/timeline").status_code == 404


def test_the_account_page_signs_out_everywhere(api):
    _email, headers = sign_up(api)
    _as(api, headers)
    page = api.get("/account")
    assert page.status_code == 200 and 'action="/sign-out-everywhere"' in page.text
    assert "on every other computer, phone or browser" in page.text
    assert 'href="/account" aria-current="page"' in page.text
    assert api.post("/sign-out-everywhere", data={}).status_code == 403
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    other = login(api, _email)  # another device
    done = api.post("/sign-out-everywhere", data={"csrf_token": token}, allow_redirects=False)
    assert done.status_code == 303 and done.headers["Location"] == "/"
    assert api.get("/api/v1/me", headers=headers).status_code == 401
    assert api.get("/api/v1/me", headers=other).status_code == 401
    assert "signed out on every device" in api.get("/").text
