"""Sign-up, sign-in, lockout and token handling over HTTP."""

from __future__ import annotations

import pytest

from tests.helpers import PASSWORD, sign_up, unique_email

pytestmark = pytest.mark.e2e


def test_sign_up_then_me(api):
    email, headers = sign_up(api)
    me = api.get("/api/v1/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["email"] == email and me.json()["roles"] == ["participant"]
    assert "password" not in me.text


def test_a_sign_up_with_a_known_email_answers_like_a_new_one(api):
    email, _ = sign_up(api)
    again = api.post("/api/v1/accounts", json={"email": email.upper(),
                                               "password": "a stranger's password", "full_name": "Someone"})
    new_email = unique_email()
    new = api.post("/api/v1/accounts", json={"email": new_email.upper(), "password": PASSWORD,
                                             "full_name": "Someone"})
    assert again.status_code == new.status_code == 202
    assert again.headers.get("Location") is None and new.headers.get("Location") is None
    assert again.json() == {**new.json(), "email": email}
    # The owner's password still works; the stranger's did not replace it.
    assert api.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD}).status_code == 200
    assert api.post("/api/v1/auth/token", json={
        "email": email, "password": "a stranger's password"}).status_code == 401


def test_short_password_gets_422(api):
    response = api.post("/api/v1/accounts", json={"email": unique_email(), "password": "short",
                                                  "full_name": "A"})
    assert response.status_code == 422 and "password" in response.json()["errors"]


def test_a_locked_account_answers_like_a_wrong_password(api):
    email, _ = sign_up(api)
    for _ in range(5):
        wrong = api.post("/api/v1/auth/token", json={"email": email, "password": "not the password"})
        assert wrong.status_code == 401
    locked = api.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD})
    unknown = api.post("/api/v1/auth/token", json={"email": unique_email(), "password": PASSWORD})
    # No 429 that would tell an attacker the email is registered.
    assert locked.status_code == unknown.status_code == 401
    assert locked.json() == unknown.json()
    assert "Retry-After" not in locked.headers


def test_parallel_guesses_cannot_outrun_the_lockout(api, config, db_engines):
    import eventlet
    from sqlalchemy import text

    email, _ = sign_up(api)
    limit = config["SECURITY"]["login_max_failures"]
    pool = eventlet.GreenPool()
    statuses = list(pool.imap(lambda _: api.post("/api/v1/auth/token", json={
        "email": email, "password": "not the password"}).status_code, range(limit * 2 + 2)))
    assert set(statuses) == {401}
    with db_engines["registration"].connect() as conn:
        failed, locked_until = conn.execute(text(
            "SELECT failed_logins, locked_until FROM accounts WHERE email = :e"), {"e": email}).one()
    # Once locked, later guesses are not even counted: no second lockout cycle starts.
    assert locked_until is not None and failed == 0


def test_unknown_email_and_wrong_password_look_the_same(api):
    email, _ = sign_up(api)
    unknown = api.post("/api/v1/auth/token", json={"email": unique_email(), "password": PASSWORD})
    wrong = api.post("/api/v1/auth/token", json={"email": email, "password": PASSWORD + "x"})
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json()["detail"] == wrong.json()["detail"]


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer not-a-jwt", "Basic abc"])
def test_bad_tokens_get_401(api, header):
    response = api.get("/api/v1/me", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.headers["Content-Type"] == "application/problem+json"
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer")
    assert ('error="invalid_token"' in challenge) == bool(header)


def test_token_signed_by_a_stranger_key_gets_401(api, tmp_path):
    from common.auth import TokenService

    foreign = TokenService({"keys_dir": str(tmp_path), "issuer": "clusterxchange"}, generate=True)
    token, _ = foreign.issue("someone", ["admin"], None, None)
    assert api.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_sign_in_is_rate_limited_per_address(api, config):
    limit = config["SECURITY"]["rate_limit_login_per_minute"]
    statuses = [api.post("/api/v1/auth/token", json={"email": "a@b.eu", "password": "x"}).status_code
                for _ in range(limit + 1)]
    assert statuses[-1] == 429 and 429 not in statuses[:limit]


def test_me_reports_the_organisation_once_registered(api, db_engines):
    from tests.helpers import partnership_id, registration_payload

    _email, headers = sign_up(api)
    assert api.get("/api/v1/me", headers=headers).json()["org_id"] is None
    reg = api.post("/api/v1/registrations", headers=headers, json=registration_payload(
        partnership_id(db_engines["registration"], "GREENMOB"))).json()
    assert api.get("/api/v1/me", headers=headers).json()["org_id"] == reg["organisation"]["id"]
