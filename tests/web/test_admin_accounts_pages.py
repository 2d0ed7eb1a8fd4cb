"""Administrators' account pages over plain HTTP: the list and its filters, the invitation
form, roles and suspension forms with their errors, the audit trail, the invitee's page, and
everyone else refused."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.helpers import PASSWORD, make_account, quick_link, sign_up, unique_email
from tests.web.test_pages import _csrf, _sign_in

pytestmark = [pytest.mark.web, pytest.mark.e2e, pytest.mark.usefixtures("notifications_container")]


@pytest.fixture
def admin(api, db_engines) -> tuple[str, str]:  # noqa: F811 - the fixture above
    email = unique_email("admin")
    account_id = make_account(db_engines["registration"], email, ["admin"])
    assert _sign_in(api, email).status_code == 303
    return email, account_id


def _post(api, path: str, data: dict, **kwargs):  # noqa: F811
    return api.post(path, data={**data, "csrf_token": _csrf(api, "/")},
                    allow_redirects=False, **kwargs)


def test_the_list_filters_pages_and_links_to_each_account(api, admin, db_engines):  # noqa: F811
    admin_email, admin_id = admin
    for index in range(3):
        make_account(db_engines["registration"], unique_email(f"agent{index}"), ["support_agent"])
    page = api.get("/admin/accounts")
    assert page.status_code == 200 and 'id="accounts"' in page.text
    assert 'href="/admin" aria-current="page"' in page.text  # the navigation entry
    assert admin_email in page.text and "4 accounts" in page.text
    agents = api.get("/admin/accounts?role=support_agent")
    assert "3 accounts" in agents.text and admin_email not in agents.text
    found = api.get("/admin/accounts", params={"q": admin_email.split("@")[0].upper()})
    assert "1 account" in found.text and f'href="/admin/accounts/{admin_id}"' in found.text
    paged = api.get("/admin/accounts?role=support_agent&page=1", params={})
    assert "Next page" not in paged.text  # 3 fit on one page of 25
    bad = api.get("/admin/accounts?status=gone")
    assert bad.status_code == 200 and 'id="status-error"' in bad.text


def test_an_invitation_from_the_form_and_the_invitees_page(api, admin, config):  # noqa: F811
    form = api.get("/admin/accounts/invite")
    assert form.status_code == 200 and 'name="idempotency_key"' in form.text
    assert api.post("/admin/accounts/invite", data={"email": "x@example.eu"}).status_code == 403
    missing = _post(api, "/admin/accounts/invite", {"email": unique_email("i"), "full_name": "Ines",
                                                   "roles": "partnership_contact",
                                                   "idempotency_key": str(uuid.uuid4())})
    assert missing.status_code == 422 and 'id="partnership_id-error"' in missing.text
    email = unique_email("invitee")
    sent = _post(api, "/admin/accounts/invite", {"email": email, "full_name": "Ines Costa",
                                                "roles": "support_agent",
                                                "idempotency_key": str(uuid.uuid4())})
    assert sent.status_code == 303, sent.text
    account_page = api.get(sent.headers["Location"])
    assert "Ines Costa" in account_page.text and "Not verified yet" in account_page.text
    assert "Invited" in account_page.text and 'id="audit"' in account_page.text

    account_id = sent.headers["Location"].rsplit("/", 1)[1]
    link = quick_link(config, account_id, "account_invited")
    landing = api.get(f"/account/invitation?token={link}")
    assert landing.status_code == 200 and "Set my password" in landing.text
    assert 'name="invitation" value="1"' in landing.text
    chosen = api.post("/account/reset/confirm", data={
        "token": link, "new_password": "my very own passphrase", "invitation": "1",
        "csrf_token": _csrf(api, "/account/reset")}, allow_redirects=False)
    assert chosen.status_code == 303 and chosen.headers["Location"] == "/sign-in"
    assert "Your password is set" in api.get("/sign-in").text
    assert "not complete" in api.get("/account/invitation").text


def test_roles_and_suspension_forms_say_what_is_wrong(api, admin, db_engines):  # noqa: F811
    _admin_email, admin_id = admin
    email = unique_email("target")
    target = make_account(db_engines["registration"], email, ["participant"])
    url = f"/admin/accounts/{target}"
    assert 'name="version" value="1"' in api.get(url).text
    stale = _post(api, f"{url}/roles", {"roles": "support_agent", "version": "7"})
    assert stale.status_code == 409 and "version 7" in stale.text
    no_partnership = _post(api, f"{url}/roles", {"roles": "partnership_contact", "version": "1"})
    assert no_partnership.status_code == 422 and 'id="partnership_id-error"' in no_partnership.text
    saved = _post(api, f"{url}/roles", {"roles": "support_agent", "version": "1"})
    assert saved.status_code == 303
    page = api.get(url).text
    assert "signed out everywhere" in page and "Roles changed" in page

    suspended = _post(api, f"{url}/suspend", {"version": "2", "reason": "Left the office"})
    assert suspended.status_code == 303
    page = api.get(url).text
    assert "Reactivate the account" in page and "Reason: Left the office" in page
    assert api.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD}
                    ).status_code == 401
    assert _post(api, f"{url}/reactivate", {"version": "3"}).status_code == 303
    assert "Suspend the account" in api.get(url).text

    own = f"/admin/accounts/{admin_id}"
    assert "You cannot suspend your own account." in api.get(own).text
    demoted = _post(api, f"{own}/roles", {"roles": "support_agent", "version": "1"})
    assert demoted.status_code == 403 and "own administrator role" in demoted.text


def test_nobody_else_sees_the_administration(api, db_engines):  # noqa: F811
    email, _headers = sign_up(api)
    assert _sign_in(api, email).status_code == 303
    home = api.get("/dashboard").text
    assert "/admin/accounts" not in home
    for path in ("/admin/accounts", "/admin/accounts/invite", f"/admin/accounts/{uuid.uuid4()}"):
        refused = api.get(path)
        assert refused.status_code == 403, path
    contact_email = unique_email("contact")
    make_account(db_engines["registration"], contact_email, ["partnership_contact"], "GREENMOB")
    assert _sign_in(api, contact_email).status_code == 303
    refused = _post(api, "/admin/accounts/invite", {"email": unique_email("x"), "full_name": "X",
                                                   "roles": "admin"})
    assert refused.status_code == 403 and re.search(r"<h1[^>]*>", refused.text)
