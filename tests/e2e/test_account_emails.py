"""Email verification, password reset and the sign-up of a known address, over HTTP, with
the links read as the notifications service reads them (account_message_context)."""

from __future__ import annotations

import pytest
from nameko.standalone.rpc import ClusterRpcProxy
from sqlalchemy import text

from common.auth import TokenService
from common.errors import InvalidState, NotAllowed, NotFound
from tests.helpers import (
    MINIMAL_PDF,
    PASSWORD,
    account_link,
    account_requests,
    login,
    message_context,
    partnership_id,
    registration_payload,
    sign_up,
    unique_email,
)

pytestmark = pytest.mark.e2e

NEW_PASSWORD = "a brand new passphrase"
ENVELOPE = {"event_id", "event_type", "version", "occurred_at", "actor_id"}


def _me(api, headers):
    return api.get("/api/v1/me", headers=headers).json()


def test_an_unverified_account_drafts_but_submits_only_once_verified(api, db_engines):
    _email, headers = sign_up(api, verify=False)
    me = _me(api, headers)
    assert me["email_verified"] is False
    greenmob = partnership_id(db_engines["registration"], "GREENMOB")
    draft = api.post("/api/v1/registrations", json=registration_payload(greenmob), headers=headers)
    assert draft.status_code == 201, draft.text
    assert api.put(f"/api/v1/registrations/{draft.json()['id']}/cv", data=MINIMAL_PDF, headers={
        **headers, "Content-Type": "application/pdf"}).status_code == 200
    refused = api.post(f"/api/v1/registrations/{draft.json()['id']}/submit", headers=headers)
    assert refused.status_code == 403 and "Verify your email" in refused.json()["detail"]

    token = account_link(api.config, me["id"], "email_verification_requested")
    assert api.post("/api/v1/account/verify", json={"token": token}).status_code == 200
    assert _me(api, headers)["email_verified"] is True
    submitted = api.post(f"/api/v1/registrations/{draft.json()['id']}/submit", headers=headers)
    assert submitted.status_code == 200, submitted.text
    again = api.post("/api/v1/account/verify", json={"token": token})
    assert again.status_code == 422 and "token" in again.json()["errors"]


def test_a_tampered_or_foreign_link_verifies_nothing(api):
    _email, headers = sign_up(api, verify=False)
    token = account_link(api.config, _me(api, headers)["id"], "email_verification_requested")
    request_id, mac = token.split(".")
    for bad in (f"{request_id}.{mac[::-1]}", f"{request_id}.", "garbage", request_id):
        answer = api.post("/api/v1/account/verify", json={"token": bad})
        assert answer.status_code == 422, answer.text
    assert _me(api, headers)["email_verified"] is False


def test_a_verification_email_is_resent_at_most_once_a_minute(api):
    _email, headers = sign_up(api, verify=False)
    account_id = _me(api, headers)["id"]
    too_soon = api.post("/api/v1/account/verify/resend", headers=headers)
    assert too_soon.status_code == 429
    assert len(account_requests(api.config, account_id, "email_verification_requested")) == 1
    _email, verified = sign_up(api)
    assert api.post("/api/v1/account/verify/resend", headers=verified).status_code == 409
    assert api.post("/api/v1/account/verify/resend").status_code == 401


def test_a_reset_link_sets_the_password_once_and_signs_every_session_out(api, db_engines):
    email, headers = sign_up(api)
    account_id = _me(api, headers)["id"]
    asked = api.post("/api/v1/account/password-reset", json={"email": email.upper()})
    assert asked.status_code == 202
    token = account_link(api.config, account_id, "password_reset_requested")

    done = api.post("/api/v1/account/password-reset/confirm",
                    json={"token": token, "new_password": NEW_PASSWORD})
    assert done.status_code == 200, done.text
    assert api.get("/api/v1/me", headers=headers).status_code == 401  # signed out
    assert api.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD}).status_code == 401
    assert _me(api, login(api, email, NEW_PASSWORD))["id"] == account_id

    twice = api.post("/api/v1/account/password-reset/confirm",
                     json={"token": token, "new_password": "yet another passphrase"})
    assert twice.status_code == 422
    login(api, email, NEW_PASSWORD)
    with db_engines["registration"].connect() as conn:
        changed = conn.execute(text("SELECT payload FROM outbox WHERE event_type = "
                                    "'password_changed'")).scalars().all()
    assert [{k: v for k, v in event.items() if k not in ENVELOPE} for event in changed] == [
        {"account_id": account_id}]
    with pytest.raises(InvalidState):  # nothing left to send for a used link
        message_context(api.config, account_id, token.split(".")[0])


def test_an_expired_reset_link_is_refused(api, db_engines):
    email, headers = sign_up(api)
    account_id = _me(api, headers)["id"]
    assert api.post("/api/v1/account/password-reset", json={"email": email}).status_code == 202
    token = account_link(api.config, account_id, "password_reset_requested")
    with db_engines["registration"].begin() as conn:  # the link's 30 minutes have passed
        conn.execute(text("UPDATE account_requests SET expires_at = now() - interval '1 second' "
                          "WHERE id = :id"), {"id": token.split(".")[0]})
    late = api.post("/api/v1/account/password-reset/confirm",
                    json={"token": token, "new_password": NEW_PASSWORD})
    assert late.status_code == 422
    assert api.get("/api/v1/me", headers=headers).status_code == 200
    login(api, email)  # the old password still works


def test_a_reset_for_an_unknown_address_answers_the_same(api):
    email, headers = sign_up(api)
    known = api.post("/api/v1/account/password-reset", json={"email": email})
    unknown = api.post("/api/v1/account/password-reset", json={"email": unique_email()})
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert set(known.headers) - {"Date", "X-Request-ID"} == set(unknown.headers) - {"Date", "X-Request-ID"}
    # A second request at once sends no second email (nobody floods an inbox).
    assert api.post("/api/v1/account/password-reset", json={"email": email}).status_code == 202
    account_id = _me(api, headers)["id"]
    assert len(account_requests(api.config, account_id, "password_reset_requested")) == 1


def test_a_sign_up_with_a_known_address_emails_its_owner_a_reset_link(api):
    email, headers = sign_up(api)
    owner = _me(api, headers)["id"]
    again = api.post("/api/v1/accounts", json={"email": email, "password": "whatever it is 1",
                                               "full_name": "Mallory"})
    assert again.status_code == 202
    assert "id" not in again.json()
    [request_id] = account_requests(api.config, owner, "signup_attempted_for_existing_account")
    context = message_context(api.config, owner, request_id)
    assert context["purpose"] == "signup_existing" and context["email"] == email
    assert context["name"] == "Ana Ferreira" and context["language"] == "en"
    done = api.post("/api/v1/account/password-reset/confirm",
                    json={"token": context["token"], "new_password": NEW_PASSWORD})
    assert done.status_code == 200
    login(api, email, NEW_PASSWORD)


def test_only_the_notifications_service_reads_an_account_email_context(api, config):
    _email, headers = sign_up(api, verify=False)
    account_id = _me(api, headers)["id"]
    [request_id] = account_requests(config, account_id, "email_verification_requested")
    tokens = TokenService(config["JWT"], generate=False)
    callers = {
        "participant": tokens.issue(account_id, ["participant"], None, None)[0],
        "another service": tokens.issue("service:matching", ["service"], None, None)[0],
        "an admin": tokens.issue("service:notifications", ["admin"], None, None)[0],
    }
    for who, token in callers.items():
        with ClusterRpcProxy(config, context_data={"auth_token": token}) as rpc:
            with pytest.raises(NotAllowed):
                rpc.registration.account_message_context({"account_id": account_id,
                                                          "request_id": request_id})
            print("refused:", who)
    _other_email, other = sign_up(api, verify=False)
    with pytest.raises(NotFound):  # a request of another account
        message_context(config, _me(api, other)["id"], request_id)
    plain = message_context(config, account_id, None)  # e.g. for password_changed
    assert plain["token"] is None and plain["email"].startswith("participant.")
    context = message_context(config, account_id, request_id)
    assert set(context) == {"email", "name", "language", "purpose", "token", "expires_at"}
    assert context["purpose"] == "email_verification" and context["token"].startswith(request_id)
