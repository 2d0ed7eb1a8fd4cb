"""Administrators manage accounts over HTTP: an invitation's email and its link, role changes
with If-Match, suspension refusing the account's tokens in the gateway, the audit trail."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.e2e.test_notifications import addressed_to, wait_for
from tests.helpers import PASSWORD, login, make_account, partnership_id, sign_up, unique_email

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("notifications_container")]

NEW_PASSWORD = "a first passphrase of mine"


@pytest.fixture
def admin_headers(api, db_engines) -> dict[str, str]:
    email = unique_email("admin")
    make_account(db_engines["registration"], email, ["admin"])
    return login(api, email)


def test_only_administrators_reach_the_accounts(api, admin_headers):
    _email, participant = sign_up(api)
    assert api.get("/api/v1/accounts").status_code == 401
    refused = api.get("/api/v1/accounts", headers=participant)
    assert refused.status_code == 403
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    listed = api.get("/api/v1/accounts?per_page=1", headers=admin_headers)
    assert listed.status_code == 200 and len(listed.json()) == 1
    assert listed.headers["X-Total-Count"] == "2" and 'rel="next"' in listed.headers["Link"]
    assert api.get("/api/v1/accounts?status=nonsense", headers=admin_headers).status_code == 422
    assert api.get(f"/api/v1/accounts/{uuid.uuid4()}", headers=admin_headers).status_code == 404


def test_an_invitee_chooses_a_password_with_the_emailed_link(api, admin_headers, db_engines,
                                                            smtp_server):
    email = unique_email("invitee")
    greenmob = partnership_id(db_engines["registration"], "GREENMOB")
    body = {"email": email, "full_name": "Ines Costa", "roles": ["partnership_contact"],
            "partnership_id": greenmob}
    key = {"Idempotency-Key": str(uuid.uuid4())}
    invited = api.post("/api/v1/accounts/invitations", json=body,
                       headers={**admin_headers, **key})
    assert invited.status_code == 201, invited.text
    account = invited.json()
    assert invited.headers["Location"] == f"/api/v1/accounts/{account['id']}"
    assert account["status"] == "unverified" and invited.headers["ETag"] == '"1"'
    replayed = api.post("/api/v1/accounts/invitations", json=body, headers={**admin_headers, **key})
    assert replayed.status_code == 201 and replayed.json()["id"] == account["id"]
    assert replayed.headers.get("Idempotent-Replayed") == "true"
    other = api.post("/api/v1/accounts/invitations", json={**body, "full_name": "Someone"},
                     headers={**admin_headers, **key})
    assert other.status_code == 409
    assert api.post("/api/v1/accounts/invitations", json=body,
                    headers=admin_headers).status_code == 409  # the address is taken

    [message] = wait_for(lambda: addressed_to(smtp_server, email), what="the invitation email")
    assert "invited" in message["Subject"]
    text = smtp_server.parts(message)["text/plain"]
    token = re.search(r"/account/invitation\?token=([\w.-]+)", text).group(1)
    assert api.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD}
                    ).status_code == 401  # nobody knows a password yet
    chosen = api.post("/api/v1/account/password-reset/confirm",
                      json={"token": token, "new_password": NEW_PASSWORD})
    assert chosen.status_code == 200, chosen.text
    assert api.post("/api/v1/account/password-reset/confirm",
                    json={"token": token, "new_password": NEW_PASSWORD}).status_code == 422
    me = api.get("/api/v1/me", headers=login(api, email, NEW_PASSWORD)).json()
    assert me["roles"] == ["partnership_contact"] and me["partnership_id"] == greenmob
    got = api.get(f"/api/v1/accounts/{account['id']}", headers=admin_headers)
    assert got.json()["status"] == "active" and got.json()["last_login_at"]


def test_a_role_change_needs_the_etag_and_signs_the_account_out(api, admin_headers):
    email, headers = sign_up(api)
    account_id = api.get("/api/v1/me", headers=headers).json()["id"]
    url = f"/api/v1/accounts/{account_id}"
    read = api.get(url, headers=admin_headers)
    assert read.status_code == 200 and read.headers["ETag"] == '"1"'
    patch = {"Content-Type": "application/merge-patch+json"}
    assert api.patch(url, json={"roles": ["support_agent"]},
                     headers={**admin_headers, **patch}).status_code == 428
    changed = api.patch(url, json={"roles": ["support_agent"]},
                        headers={**admin_headers, **patch, "If-Match": '"1"'})
    assert changed.status_code == 200, changed.text
    assert changed.json()["roles"] == ["support_agent"] and changed.headers["ETag"] == '"2"'
    stale = api.patch(url, json={"roles": ["participant"]},
                      headers={**admin_headers, **patch, "If-Match": '"1"'})
    assert stale.status_code == 409
    # The old token carried the old roles: every gateway refuses it within moments.
    wait_for(lambda: api.get("/api/v1/me", headers=headers).status_code == 401,
             what="the old token refused")
    assert login(api, email)  # a new sign-in carries the new roles
    audit = api.get(f"{url}/audit", headers=admin_headers)
    assert audit.status_code == 200 and audit.headers["X-Total-Count"] == "1"
    assert audit.json()[0]["changes"]["roles"] == {"from": ["participant"], "to": ["support_agent"]}


def test_a_suspended_account_is_signed_out_and_cannot_sign_in(api, admin_headers):
    email, headers = sign_up(api)
    account_id = api.get("/api/v1/me", headers=headers).json()["id"]
    suspended = api.post(f"/api/v1/accounts/{account_id}/suspend", json={"reason": "Left"},
                         headers={**admin_headers, "If-Match": '"1"'})
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"
    wait_for(lambda: api.get("/api/v1/me", headers=headers).status_code == 401,
             what="the suspended account's token refused")
    refused = api.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    assert refused.status_code == 401 and "suspended" in refused.json()["detail"]
    guessed = api.post("/api/v1/auth/token", json={"email": email, "password": "wrong guess 123"})
    assert "suspended" not in guessed.json()["detail"]
    assert api.post(f"/api/v1/accounts/{account_id}/suspend",
                    headers=admin_headers).status_code == 409
    assert api.post(f"/api/v1/accounts/{account_id}/reactivate",
                    headers={**admin_headers, "If-Match": '"1"'}).status_code == 409
    back = api.post(f"/api/v1/accounts/{account_id}/reactivate", headers=admin_headers)
    assert back.status_code == 200 and back.json()["status"] == "active"
    assert login(api, email)
    me = api.get("/api/v1/me", headers=admin_headers).json()
    own = api.post(f"/api/v1/accounts/{me['id']}/suspend", headers=admin_headers)
    assert own.status_code == 403
