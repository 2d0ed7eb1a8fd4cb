"""The web application over plain HTTP: public pages, the session cookie, CSRF, sign-in
redirects, an expired session, and the API's OpenAPI document left as it was."""

from __future__ import annotations

import re
import time
import uuid

import pytest

from gateway.web.session import CSRF_COOKIE, SESSION_COOKIE
from tests.e2e.test_notifications import accept_registration
from tests.helpers import (
    PASSWORD,
    account_requests,
    login,
    make_account,
    message_context,
    partnership_id,
    quick_link,
    sign_up,
    unique_email,
)

pytestmark = [pytest.mark.web, pytest.mark.e2e, pytest.mark.usefixtures("notifications_container")]




def _csrf(api, path: str = "/sign-in") -> str:
    page = api.get(path)
    assert page.status_code == 200, page.text
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def test_public_pages_are_html_and_the_api_is_untouched(api):
    for path in ("/", "/eligibility", "/partnerships", "/partnerships/GREENMOB", "/sign-in",
                 "/sign-up"):
        page = api.get(path)
        assert page.status_code == 200, (path, page.text[:300])
        assert page.headers["Content-Type"].startswith("text/html")
        assert "<h1" in page.text and 'lang="en"' in page.text
        assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert "Green mobility" in api.get("/partnerships").text or "GREENMOB" in api.get("/partnerships").text
    document = api.get("/api/v1/openapi.json").json()
    assert not [path for path in document["paths"] if not path.startswith(("/api/", "/health",
                                                                          "/metrics", "/problems"))]
    missing = api.get("/no-such-page")
    assert missing.status_code == 404 and missing.headers["Content-Type"].startswith(
        "application/problem+json")


def test_static_assets_are_local_and_gzipped(api):
    home = api.get("/").text
    for asset in re.findall(r'(?:href|src)="(/static/[^"]+)"', home):
        served = api.get(asset, headers={"Accept-Encoding": "gzip"})
        assert served.status_code == 200, asset
        assert served.headers.get("Content-Encoding") == "gzip", asset
        again = api.get(asset, headers={"If-None-Match": served.headers["ETag"]})
        assert again.status_code == 304
    assert "//cdn" not in home and "https://" not in re.sub(r'href="https://example', "", home)
    assert api.get("/static/../pyproject.toml").status_code == 404
    assert api.get("/static/ecl/nothing.css").status_code == 404


def test_signed_in_pages_send_a_visitor_to_sign_in_and_back(api):
    page = api.get("/exchanges?x=1", allow_redirects=False)
    assert page.status_code == 303
    assert page.headers["Location"] == "/sign-in?next=/exchanges%3Fx%3D1"


def _sign_in(api, email: str, password: str = PASSWORD, next_path: str = "/dashboard"):
    return api.post("/sign-in", data={"email": email, "password": password, "next": next_path,
                                      "csrf_token": _csrf(api)}, allow_redirects=False)


def _session(api) -> str:
    return next(c.value for c in api.cookies if c.name == SESSION_COOKIE and c.value)


def test_sign_up_says_check_your_email_and_every_form_needs_its_csrf_token(api):
    email = unique_email("web")
    token = _csrf(api, "/sign-up")
    refused = api.post("/sign-up", data={"email": email, "full_name": "Ana", "password": PASSWORD},
                       allow_redirects=False)
    assert refused.status_code == 403 and "form expired" in refused.text
    forged = api.post("/sign-up", data={"email": email, "full_name": "Ana", "password": PASSWORD,
                                        "csrf_token": "x" * 43}, allow_redirects=False)
    assert forged.status_code == 403
    short = api.post("/sign-up", data={"email": email, "full_name": "Ana", "password": "short",
                                       "csrf_token": token})
    assert short.status_code == 422 and 'aria-invalid="true"' in short.text
    assert 'id="password-error"' in short.text
    created = api.post("/sign-up", data={"email": email, "full_name": "Ana", "password": PASSWORD,
                                         "csrf_token": token, "idempotency_key": str(uuid.uuid4())},
                       allow_redirects=False)
    assert created.status_code == 200 and "Check your email" in created.text
    assert email in created.text
    assert not any(c.startswith(SESSION_COOKIE + "=")
                   for c in created.raw.headers.getlist("Set-Cookie"))
    # The same address again: the very same answer (nothing tells it is registered).
    again = api.post("/sign-up", data={"email": email, "full_name": "Eve", "password": PASSWORD[::-1],
                                       "csrf_token": token, "idempotency_key": str(uuid.uuid4())},
                     allow_redirects=False)
    assert again.status_code == 200 and "Check your email" in again.text

    signed = _sign_in(api, email, next_path="/registration/new")
    assert signed.status_code == 303 and signed.headers["Location"] == "/registration/new"
    cookie = next(c for c in signed.raw.headers.getlist("Set-Cookie")
                  if c.startswith(SESSION_COOKIE + "="))
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=Lax" in cookie
    # A new session gets a new CSRF token: the one from before signing in no longer works.
    assert any(c.startswith(CSRF_COOKIE + "=") for c in signed.raw.headers.getlist("Set-Cookie"))


def test_the_verification_link_verifies_once_and_a_signed_in_person_continues(api):
    email = unique_email("web")
    api.post("/sign-up", data={"email": email, "full_name": "Ana", "password": PASSWORD,
                               "csrf_token": _csrf(api, "/sign-up"),
                               "idempotency_key": str(uuid.uuid4())})
    assert _sign_in(api, email).status_code == 303
    bearer = {"Authorization": f"Bearer {_session(api)}"}
    account_id = api.get("/api/v1/me", headers=bearer).json()["id"]
    resent = api.post("/account/verify/resend", data={"csrf_token": _csrf(api, "/dashboard")},
                      headers={"Referer": api.base + "/dashboard"}, allow_redirects=False)
    assert resent.status_code == 303 and resent.headers["Location"] == "/dashboard"
    assert "a moment ago" in api.get("/dashboard").text  # at most one email a minute

    link = quick_link(api.config, account_id, "email_verification_requested")
    broken = api.get(f"/account/verify?token={link[:-3]}")
    assert broken.status_code == 422 and "does not work" in broken.text
    verified = api.get(f"/account/verify?token={link}", allow_redirects=False)
    assert verified.status_code == 303 and verified.headers["Location"] == "/registration/new"
    assert api.get("/api/v1/me", headers=bearer).json()["email_verified"] is True
    assert api.get(f"/account/verify?token={link}").status_code == 422  # once only

    # Signed out for real: the session's token no longer works anywhere.
    signed_out = api.post("/sign-out", data={"csrf_token": _csrf(api, "/dashboard")},
                          allow_redirects=False)
    assert signed_out.status_code == 303 and signed_out.headers["Location"] == "/"
    assert api.get("/api/v1/me", headers=bearer).status_code == 401
    assert api.get("/dashboard", allow_redirects=False).status_code == 303


def test_a_verification_link_followed_signed_out_offers_to_sign_in(api):
    email = unique_email("web")
    api.post("/sign-up", data={"email": email, "full_name": "Ana", "password": PASSWORD,
                               "csrf_token": _csrf(api, "/sign-up"),
                               "idempotency_key": str(uuid.uuid4())})
    _sign_in(api, email)
    account_id = api.get("/api/v1/me", headers={
        "Authorization": f"Bearer {_session(api)}"}).json()["id"]
    api.cookies.clear()
    link = quick_link(api.config, account_id, "email_verification_requested")
    verified = api.get(f"/account/verify?token={link}")
    assert verified.status_code == 200 and "is verified" in verified.text
    assert 'href="/sign-in?next=/registration/new"' in verified.text


def test_a_reset_link_sets_a_new_password_and_signs_every_session_out(api):
    email = unique_email("web")
    api.post("/sign-up", data={"email": email, "full_name": "Ana", "password": PASSWORD,
                               "csrf_token": _csrf(api, "/sign-up"),
                               "idempotency_key": str(uuid.uuid4())})
    _sign_in(api, email)
    bearer = {"Authorization": f"Bearer {_session(api)}"}
    account_id = api.get("/api/v1/me", headers=bearer).json()["id"]
    assert "Forgot your password?" in api.get("/sign-in").text
    asked = api.post("/account/reset", data={"email": email, "csrf_token": _csrf(api, "/account/reset")})
    assert asked.status_code == 200 and "Check your email" in asked.text
    unknown = api.post("/account/reset", data={"email": unique_email("nobody"),
                                               "csrf_token": _csrf(api, "/account/reset")})
    assert unknown.status_code == 200 and "Check your email" in unknown.text

    link = quick_link(api.config, account_id, "password_reset_requested")
    form = api.get(f"/account/reset?token={link}")
    assert form.status_code == 200 and 'name="new_password"' in form.text
    new_password = "a brand new passphrase"
    short = api.post("/account/reset/confirm", data={"token": link, "new_password": "short",
                                                     "csrf_token": _csrf(api, "/account/reset")})
    assert short.status_code == 422 and 'id="new_password-error"' in short.text
    changed = api.post("/account/reset/confirm", data={
        "token": link, "new_password": new_password, "csrf_token": _csrf(api, "/account/reset")},
        allow_redirects=False)
    assert changed.status_code == 303 and changed.headers["Location"] == "/sign-in"
    assert api.get("/api/v1/me", headers=bearer).status_code == 401  # every session signed out
    again = api.post("/account/reset/confirm", data={
        "token": link, "new_password": new_password, "csrf_token": _csrf(api, "/account/reset")})
    assert again.status_code == 422
    assert _sign_in(api, email).status_code == 401
    assert _sign_in(api, email, new_password).status_code == 303


def test_sign_in_refuses_a_wrong_password_and_an_expired_session_says_so(api, db_engines, tokens):
    email = unique_email("web")
    make_account(db_engines["registration"], email, ["participant"])
    token = _csrf(api)
    wrong = api.post("/sign-in", data={"email": email, "password": "not it at all",
                                       "csrf_token": token, "next": "/contacts"})
    assert wrong.status_code == 401 and "ecl-notification--error" in wrong.text
    signed = api.post("/sign-in", data={"email": email, "password": PASSWORD, "csrf_token": token,
                                        "next": "//evil.example/"}, allow_redirects=False)
    assert signed.status_code == 303 and signed.headers["Location"] == "/dashboard"
    # A token that expired (signed by the platform, but past its lifetime).
    tokens.ttl = -120
    stale, _ = tokens.issue(str(uuid.uuid4()), ["participant"], None, None)
    api.cookies.set(SESSION_COOKIE, stale, domain=api.base.split("//")[1].split(":")[0])
    expired = api.get("/contacts", allow_redirects=False)
    assert expired.status_code == 303
    assert expired.headers["Location"] == "/sign-in?next=/contacts&expired=1"
    assert "session has expired" in api.get(expired.headers["Location"]).text


def test_the_eligibility_checker_needs_no_account(api):
    token = _csrf(api, "/eligibility")
    answer = api.post("/eligibility", data={
        "csrf_token": token, "roles": "visitor", "organisation.type": "cluster_organisation",
        "organisation.country": "PT", "representative.date_of_birth": "2015-01-01",
        "representative.nationality": "PT"})
    assert answer.status_code == 200, answer.text
    assert "The representative must be at least 18 years old." in answer.text
    assert "Portugal participates in the programme." in answer.text
    refused = api.post("/eligibility", data={"csrf_token": token, "roles": "visitor"})
    assert refused.status_code == 422 and 'id="organisation-type-error"' in refused.text
    over_json = api.post("/api/v1/eligibility-check", json={
        "roles": ["host"], "organisation": {"type": "cluster_organisation", "country": "PT"},
        "representative": {"date_of_birth": "1980-01-01", "nationality": "PT"}})
    assert over_json.status_code == 200 and over_json.json()["eligible"] is True


@pytest.fixture
def greenmob(db_engines) -> str:
    return partnership_id(db_engines["registration"], "GREENMOB")


@pytest.fixture
def contact(api, db_engines) -> tuple[str, dict[str, str]]:
    email = unique_email("contact")
    make_account(db_engines["registration"], email, ["partnership_contact"], "GREENMOB")
    return email, login(api, email)


def _wait_for(condition, what: str, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return found


def _use_session(api, headers: dict[str, str]) -> None:
    """The browser's cookie carrying the same token as the API's bearer header."""
    api.cookies.set(SESSION_COOKIE, headers["Authorization"].split()[1],
                    domain=api.base.split("//")[1].split(":")[0])


def test_the_inbox_shows_unread_first_marks_read_and_the_bell_counts(api, greenmob, contact,
                                                                     rabbit_config):
    _email, headers, _event = accept_registration(api, greenmob, contact[1], rabbit_config)
    [entry] = _wait_for(lambda: api.get("/api/v1/notifications", headers=headers).json(),
                        "the participant's notification")
    _use_session(api, headers)
    inbox = api.get("/notifications")
    assert inbox.status_code == 200 and entry["title"] in inbox.text
    assert "cxc-notice--unread" in inbox.text and "1 unread notification" in inbox.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', inbox.text).group(1)

    # Someone else's notification: not found, and theirs stays unread.
    _use_session(api, contact[1])
    foreign = api.post(f"/notifications/{entry['id']}/read", data={"csrf_token": token})
    assert foreign.status_code == 404
    _use_session(api, headers)
    assert api.get("/api/v1/notifications/unread-count", headers=headers).json() == {"unread": 1}
    assert api.post(f"/notifications/{entry['id']}/read").status_code == 403  # no CSRF token

    opened = api.post(f"/notifications/{entry['id']}/read", data={"csrf_token": token, "open": "1"},
                      allow_redirects=False)
    assert opened.status_code == 303 and opened.headers["Location"] == (entry["link"] or "/notifications")
    assert api.get("/api/v1/notifications/unread-count", headers=headers).json() == {"unread": 0}
    inbox = api.get("/notifications")
    assert "cxc-notice--unread" not in inbox.text and "unread notification" not in inbox.text
    marked = api.post("/notifications/read-all", data={"csrf_token": token}, allow_redirects=False)
    assert marked.status_code == 303 and marked.headers["Location"] == "/notifications"
    api.cookies.clear()
    assert api.get("/notifications", allow_redirects=False).status_code == 303  # sign in first


def test_notification_preferences_save_with_their_version(api):
    _email, headers = sign_up(api)
    _use_session(api, headers)
    form = api.get("/notifications/preferences")
    assert form.status_code == 200
    assert 'value="contact_requested" checked' in form.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    saved = api.post("/notifications/preferences", data={
        "csrf_token": token, "version": "0", "email_kinds": []}, allow_redirects=False)
    assert saved.status_code == 303
    assert api.get("/api/v1/notifications/preferences", headers=headers).json()["email_kinds"] == []
    stale = api.post("/notifications/preferences", data={
        "csrf_token": token, "version": "0", "email_kinds": ["contact_requested"]})
    assert stale.status_code == 409 and "ecl-notification--error" in stale.text
    unknown = api.post("/notifications/preferences", data={
        "csrf_token": token, "version": "1", "email_kinds": ["no_such_kind"]})
    assert unknown.status_code == 422
    assert api.get("/api/v1/notifications/preferences", headers=headers).json()["email_kinds"] == []
    french = api.post("/notifications/preferences", data={
        "csrf_token": token, "version": "1", "language": "fr"}, allow_redirects=False)
    assert french.status_code == 303
    assert api.get("/api/v1/notifications/preferences", headers=headers).json()["language"] == "fr"
    shown = api.get("/notifications/preferences", headers={"Accept-Language": "fr"}).text
    assert '<option value="fr" selected>Français</option>' in shown
    assert "Demande de contact reçue" in shown  # the kinds in the page's language
    klingon = api.post("/notifications/preferences", data={
        "csrf_token": token, "version": "2", "language": "tlh"})
    assert klingon.status_code == 422 and 'id="language-error"' in klingon.text


def test_support_pages_ask_answer_and_book_a_meeting(api, db_engines):
    from tests.e2e.test_support_desk import png_bytes

    # Anonymous, with a screenshot: the reference, and the answer promised by email.
    token = _csrf(api, "/support")
    anonymous = api.post("/support", data={
        "csrf_token": token, "idempotency_key": str(uuid.uuid4()), "email": unique_email("anon"),
        "participant_status": "interested", "subject": "Who may take part?",
        "text": "Is a cluster from Norway eligible?"},
        files={"screenshot": ("screen.png", png_bytes(), "image/png")})
    assert anonymous.status_code == 200 and "SUP-" in anonymous.text, anonymous.text[-800:]
    missing = api.post("/support", data={"csrf_token": token, "participant_status": "interested",
                                         "subject": "No address", "text": "Where to answer?"})
    assert missing.status_code == 422 and 'id="email-error"' in missing.text

    # A participant: the query opens its conversation; the agent answers from the queue.
    _email, headers = sign_up(api)
    _use_session(api, headers)
    sent = api.post("/support", data={
        "csrf_token": _csrf(api, "/support"), "idempotency_key": str(uuid.uuid4()),
        "participant_status": "registered", "subject": "My CV upload",
        "text": "The upload stops at 80 %."}, allow_redirects=False)
    assert sent.status_code == 303 and sent.headers["Location"].startswith("/support/queries/")
    query_path = sent.headers["Location"]
    assert "My CV upload" in api.get("/support/queries").text

    agent_email = unique_email("agent")
    make_account(db_engines["registration"], agent_email, ["support_agent"])
    _use_session(api, login(api, agent_email))
    queue = api.get("/support/queries?status=open")
    assert queue.status_code == 200 and "My CV upload" in queue.text and "Who may take part?" in queue.text
    answered = api.post(f"{query_path}/reply", data={
        "csrf_token": _csrf(api, query_path), "idempotency_key": str(uuid.uuid4()),
        "text": "Try a PDF under 5 MB."}, allow_redirects=False)
    assert answered.status_code == 303
    anonymous_id = re.search(r'href="(/support/queries/[^"?]+)"[^>]*>Who may take part',
                             queue.text).group(1)
    shot = api.get(f"{anonymous_id}/screenshot")
    assert shot.status_code == 200 and shot.content == png_bytes()

    _use_session(api, headers)
    conversation = api.get(query_path)
    assert "Try a PDF under 5 MB." in conversation.text
    assert api.get(anonymous_id).status_code == 404  # someone else's query
    assert api.post(f"{query_path}/close", data={"csrf_token": _csrf(api, query_path)}
                    ).status_code == 403  # agents only

    # A meeting: the first free slot, one upcoming at a time, then cancelled.
    meetings = api.get("/support/meetings")
    assert meetings.status_code == 200
    slot = re.search(r'<option value="([^"]+Z?)"', meetings.text.split('id="start"')[1]).group(1)
    token = _csrf(api, "/support/meetings")
    booked = api.post("/support/meetings", data={"csrf_token": token, "start": slot,
                                                 "idempotency_key": str(uuid.uuid4()),
                                                 "topic": "CV upload"}, allow_redirects=False)
    assert booked.status_code == 303, booked.text[-800:]
    listed = api.get("/support/meetings").text
    assert "CV upload" in listed
    second = api.post("/support/meetings", data={"csrf_token": token, "start": slot,
                                                 "idempotency_key": str(uuid.uuid4())})
    assert second.status_code == 409 and "ecl-notification--error" in second.text
    meeting_id = re.search(r'action="/support/meetings/([^/"]+)/cancel"', listed).group(1)
    cancelled = api.post(f"/support/meetings/{meeting_id}/cancel", data={"csrf_token": token},
                         allow_redirects=False)
    assert cancelled.status_code == 303
    assert "Cancel the meeting" not in api.get("/support/meetings").text


def test_pages_speak_french_chosen_in_the_header_or_by_the_browser(api):
    by_browser = api.get("/eligibility", headers={"Accept-Language": "fr-BE,fr;q=0.9,en;q=0.5"})
    assert by_browser.status_code == 200
    assert '<html lang="fr">' in by_browser.text and "Puis-je participer\xa0?" in by_browser.text
    assert "Type d'organisation" in by_browser.text and "Can I take part?" not in by_browser.text
    assert "Organisation de cluster" in by_browser.text and "Allemagne" in by_browser.text
    other = api.get("/eligibility", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert '<html lang="en">' in other.text and "Can I take part?" in other.text

    switched = api.get("/language/fr?next=/partnerships", allow_redirects=False)
    assert switched.status_code == 303 and switched.headers["Location"] == "/partnerships"
    cookie = switched.headers["Set-Cookie"]
    assert cookie.startswith("cxc_lang=fr;") and "HttpOnly" in cookie and "Max-Age=31536000" in cookie
    chosen = api.get("/partnerships", headers={"Accept-Language": "en-GB,en"})  # the cookie wins
    assert '<html lang="fr">' in chosen.text and "Partenariats de clusters" in chosen.text
    assert 'href="/language/en?next=/partnerships"' in chosen.text

    refused = api.post("/eligibility", data={"csrf_token": _csrf(api, "/eligibility"),
                                             "roles": "visitor"})
    assert refused.status_code == 422 and "Veuillez corriger les points suivants" in refused.text
    missing = api.get("/partnerships/NO-SUCH-ONE")
    assert missing.status_code == 404 and "Page introuvable" in missing.text
    assert api.post("/sign-in", data={"email": "x@example.org"}).text.count("formulaire a expiré") == 1

    # An account made from a French page gets its account emails in French.
    email = unique_email("web-fr")
    created = api.post("/sign-up", data={
        "email": email, "full_name": "Amélie", "password": PASSWORD,
        "csrf_token": _csrf(api, "/sign-up"), "idempotency_key": str(uuid.uuid4())})
    assert created.status_code == 200 and "Consultez votre messagerie" in created.text
    account_id = api.get("/api/v1/me", headers=login(api, email)).json()["id"]
    request_id = account_requests(api.config, account_id, "email_verification_requested")[-1]
    assert message_context(api.config, account_id, request_id)["language"] == "fr"

    assert api.get("/language/xx").status_code == 404
    hostile = api.get("/language/en?next=//evil.example/", allow_redirects=False)
    assert hostile.headers["Location"] == "/dashboard"
    assert '<html lang="en">' in api.get("/partnerships").text  # switched back
