"""The support desk over HTTP: anonymous and signed-in queries, answers by email (with a link
token for anonymous requesters) and in the inbox, replies that reopen, screenshots sniffed and
stored, who may see what, and the rate limit on anonymous queries."""

from __future__ import annotations

import io
import re
import time
from typing import Any
from urllib.parse import urlparse

import pytest
from PIL import Image
from sqlalchemy import text

from tests.helpers import login, make_account, sign_up, unique_email

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("notifications_container")]

QUERIES = "/api/v1/support/queries"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
SUPPORT_MAILBOX = "helpdesk@support.test"


def wait_for(condition, timeout: float = 20, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def addressed_to(smtp_server, email: str) -> list[Any]:
    return [m for m in smtp_server.messages() if m["To"] == email]


def text_part(message: Any) -> str:
    return next(part.get_payload(decode=True).decode() for part in message.walk()
                if part.get_content_type() == "text/plain")


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def support_config(config):
    config["SUPPORT"] = {**config["SUPPORT"], "mailbox": SUPPORT_MAILBOX}
    config["SECURITY"] = {**config["SECURITY"], "rate_limit_support_per_hour": 4}
    return config


@pytest.fixture
def agent(support_config, api, db_engines) -> dict[str, str]:
    email = unique_email("agent")
    make_account(db_engines["registration"], email, ["support_agent"])
    return login(api, email)


def link_token(message: Any) -> tuple[str, str]:
    url = re.search(r"https?://\S+/support/queries/\S+", text_part(message)).group(0)
    parsed = urlparse(url)
    return parsed.path.rsplit("/", 1)[1], parsed.query.removeprefix("token=")


def test_anyone_with_an_email_asks_and_reads_the_answer_through_the_emailed_link(
        support_config, api, agent, smtp_server, db_engines):
    requester = unique_email("visitor")
    created = api.post(QUERIES, headers={"User-Agent": FIREFOX}, data={
        "subject": "Can a fab lab visit?", "text": "We are a fab lab in Porto.",
        "participant_status": "interested", "email": requester, "exchange_reference": ""},
        files={"screenshot": ("screen.png", png_bytes(), "application/octet-stream")})
    assert created.status_code == 201, created.text
    query = created.json()
    assert created.headers["Location"] == f"{QUERIES}/{query['id']}"
    assert (query["browser_brand"], query["browser_version"]) == ("Firefox", "133.0")
    assert query["status"] == "open" and query["signed_in"] is False
    assert query["screenshot"]["content_type"] == "image/png"

    [received] = wait_for(lambda: addressed_to(smtp_server, requester), what="the acknowledgement")
    query_id, token = link_token(received)
    assert query_id == query["id"]
    wait_for(lambda: addressed_to(smtp_server, SUPPORT_MAILBOX), what="the support office told")

    # The link's token reads this query, and nothing else.
    assert api.get(f"{QUERIES}/{query_id}").status_code == 401
    assert api.get(f"{QUERIES}/{query_id}", params={"token": "wrong"}).status_code == 404
    mine = api.get(f"{QUERIES}/{query_id}", params={"token": token})
    assert mine.status_code == 200 and mine.json()["text"] == "We are a fab lab in Porto."
    assert api.get(f"{QUERIES}/{query_id}/screenshot",
                   headers={"X-Support-Token": token}).content == png_bytes()

    listed = api.get(QUERIES, headers=agent, params={"status": "open", "text": "FAB LAB"})
    assert listed.status_code == 200 and [q["id"] for q in listed.json()] == [query_id]
    assert listed.json()[0]["requester_email"] == requester
    assert listed.headers["X-Total-Count"] == "1"
    assert api.get(QUERIES, headers=agent, params={"participant_status": "registered"}).json() == []
    shot = api.get(f"{QUERIES}/{query_id}/screenshot", headers=agent)
    assert shot.status_code == 200 and shot.headers["Content-Type"] == "image/png"

    smtp_server.clear()
    answered = api.post(f"{QUERIES}/{query_id}/replies", headers=agent,
                        json={"text": "Yes: fab labs that are cluster members may visit."})
    assert answered.status_code == 201 and answered.json()["status"] == "answered"
    [answer] = wait_for(lambda: addressed_to(smtp_server, requester), what="the answer by email")
    assert "fab labs that are cluster members" in text_part(answer)
    _id, second_token = link_token(answer)

    reply = api.post(f"{QUERIES}/{query_id}/replies", params={"token": second_token},
                     json={"text": "Thanks! And the lump sum?"})
    assert reply.status_code == 201 and reply.json()["status"] == "open"
    assert [m["author"] for m in reply.json()["messages"]] == ["support", "requester"]
    assert api.post(f"{QUERIES}/{query_id}/close", headers=agent).json()["status"] == "closed"
    assert api.post(f"{QUERIES}/{query_id}/close", headers=agent).status_code == 409
    again = api.post(f"{QUERIES}/{query_id}/replies", params={"token": token}, json={"text": "One more"})
    assert again.json()["status"] == "open"  # a reply opens a closed query again

    # Personal data stays in notifications' tables: no event was written about it.
    with db_engines["notifications"].connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM outbox")).scalar() == 0


def test_a_participant_is_answered_in_the_inbox_and_sees_only_their_own_queries(
        support_config, api, agent, smtp_server, db_engines):
    email, participant = sign_up(api)
    _other_email, other = sign_up(api)
    created = api.post(QUERIES, headers=participant, json={
        "subject": "My exchange dates", "text": "Can we move the dates?", "participant_status": "registered",
        "exchange_reference": "CXC-2026-000123", "browser_brand": "Lynx", "browser_version": "2.9"})
    assert created.status_code == 201, created.text
    query = created.json()
    assert (query["browser_brand"], query["signed_in"]) == ("Lynx", True)
    assert query["requester_email"] is None

    assert api.get(f"{QUERIES}/{query['id']}", headers=other).status_code == 404
    assert api.post(f"{QUERIES}/{query['id']}/replies", headers=other, json={"text": "x"}).status_code == 404
    assert api.get(QUERIES, headers=other).json() == []
    assert [q["id"] for q in api.get(QUERIES, headers=participant).json()] == [query["id"]]
    assert api.post(f"{QUERIES}/{query['id']}/close", headers=participant).status_code == 403

    assert api.post(f"{QUERIES}/{query['id']}/replies", headers=agent,
                    json={"text": "Yes, ask both contact points."}).status_code == 201
    [answer] = wait_for(lambda: [m for m in addressed_to(smtp_server, email)
                                 if "answered" in m["Subject"]], what="the answer email")
    assert "ask both contact points" in text_part(answer)
    inbox = api.get("/api/v1/notifications", headers=participant).json()
    assert sorted(n["event_type"] for n in inbox) == ["support_query_answered", "support_query_received"]
    assert {n["link"] for n in inbox} == {f"/support/queries/{query['id']}"}


def test_who_may_not_ask_or_list(support_config, api, agent, db_engines):
    contact_email = unique_email("contact")
    make_account(db_engines["registration"], contact_email, ["partnership_contact"], "GREENMOB")
    contact = login(api, contact_email)
    body = {"subject": "Hello there", "text": "x", "participant_status": "interested"}
    assert api.post(QUERIES, headers=contact, json=body).status_code == 403
    assert api.get(QUERIES, headers=contact).status_code == 403
    assert api.get(QUERIES).status_code == 401
    missing = api.post(QUERIES, json=body)
    assert missing.status_code == 422 and "email" in missing.json()["errors"]
    bad = api.post(QUERIES, json={**body, "email": unique_email(), "exchange_reference": "CXC-1"})
    assert bad.status_code == 422 and "exchange_reference" in bad.json()["errors"]
    assert api.get(f"{QUERIES}/no-such-query", headers=agent).status_code == 404


def test_a_screenshot_must_be_a_png_or_jpeg_of_at_most_five_megabytes(support_config, api, agent):
    _email, participant = sign_up(api)
    form = {"subject": "Broken page", "text": "See the picture.", "participant_status": "registered"}
    pdf = api.post(QUERIES, headers=participant, data=form,
                   files={"screenshot": ("shot.png", b"%PDF-1.4\n%\xe2\xe3\n1 0 obj\n", "image/png")})
    assert pdf.status_code == 415
    huge = png_bytes() + b"\0" * (5 * 1024 * 1024)
    assert api.post(QUERIES, headers=participant, data=form,
                    files={"screenshot": ("shot.png", huge, "image/png")}).status_code == 413
    assert api.get(QUERIES, headers=agent).json() == []


def test_anonymous_queries_are_rate_limited(support_config, api):
    body = {"subject": "Question", "text": "x", "participant_status": "interested"}
    statuses = [api.post(QUERIES, json={**body, "email": unique_email()}).status_code for _ in range(5)]
    assert statuses == [201, 201, 201, 201, 429]
