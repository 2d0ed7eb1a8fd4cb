"""Notifications over HTTP: a registration accepted through the gateway reaches its participant
by email (a real SMTP server) and in the inbox, once; email retries while the mail server is
down; the inbox and preferences are each person's own."""

from __future__ import annotations

import time
from typing import Any

import pytest
from nameko.testing.services import entrypoint_waiter
from sqlalchemy import text

from tests.e2e.test_registration_journey import EventTap, _draft_with_cv
from tests.helpers import login, make_account, partnership_id, publish_event, sign_up, unique_email

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("notifications_container")]


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


def emails(db_engines, event_type: str | None = None) -> list[Any]:
    with db_engines["notifications"].connect() as conn:
        rows = conn.execute(text("SELECT * FROM email_messages ORDER BY id")).all()
    return [row for row in rows if event_type is None or row.event_type == event_type]


@pytest.fixture
def greenmob(db_engines) -> str:
    return partnership_id(db_engines["registration"], "GREENMOB")


@pytest.fixture
def contact(api, db_engines) -> tuple[str, dict[str, str]]:
    email = unique_email("contact")
    make_account(db_engines["registration"], email, ["partnership_contact"], "GREENMOB")
    return email, login(api, email)


def accept_registration(api, greenmob, contact_headers, rabbit_config) -> tuple[str, dict, dict]:
    """A participant's registration submitted and accepted over HTTP; the accepted event."""
    tap = EventTap(rabbit_config, "registration_accepted")
    try:
        email, headers = sign_up(api)
        reg = _draft_with_cv(api, headers, greenmob)
        assert api.post(f"/api/v1/registrations/{reg['id']}/submit", headers=headers).status_code == 200
        accepted = api.post(f"/api/v1/registrations/{reg['id']}/assessment",
                            json={"decision": "accept"}, headers=contact_headers)
        assert accepted.status_code == 200, accepted.text
        _properties, event = tap.next()
    finally:
        tap.close()
    return email, headers, event


def test_an_accepted_registration_emails_its_participant_once_and_fills_the_inbox(
        api, greenmob, contact, rabbit_config, smtp_server, db_engines, notifications_container, config):
    email, headers, event = accept_registration(api, greenmob, contact[1], rabbit_config)

    def acceptances() -> list:
        # (the participant's other email is the verification link sent at sign-up)
        return [m for m in addressed_to(smtp_server, email) if "accepted" in m["Subject"]]

    [message] = wait_for(acceptances, what="the participant's email")
    assert message["X-RcptTo"] == email
    assert event["reference"] in message["Subject"] and "accepted" in message["Subject"]
    parts = smtp_server.parts(message)
    assert "Hello Ana Ferreira" in parts["text/plain"]
    assert f"/registrations/{event['registration_id']}" in parts["text/plain"]
    assert "<p>Hello Ana Ferreira,</p>" in parts["text/html"]

    inbox = wait_for(lambda: (answer := api.get("/api/v1/notifications", headers=headers)).json()
                     and answer, what="the inbox entry")
    assert inbox.status_code == 200 and inbox.headers["X-Total-Count"] == "1"
    [entry] = inbox.json()
    assert entry["event_type"] == "registration_accepted" and entry["read"] is False
    assert entry["reference"] == event["reference"]

    # The contact point heard of the submission (inbox, and email by default), not of the
    # acceptance they made themselves.
    wait_for(lambda: addressed_to(smtp_server, contact[0]), what="the contact point's email")
    contact_inbox = api.get("/api/v1/notifications", headers=contact[1]).json()
    assert [n["event_type"] for n in contact_inbox] == ["registration_submitted"]

    # The same event again (a redelivery): nothing new anywhere.
    with entrypoint_waiter(notifications_container, "handle_registration_event", timeout=10):
        publish_event(config, "registration", event)
    assert len(emails(db_engines, "registration_accepted")) == 1
    wait_for(lambda: all(row.status == "sent" for row in emails(db_engines)), what="all sent")
    assert len(acceptances()) == 1
    assert api.get("/api/v1/notifications", headers=headers).headers["X-Total-Count"] == "1"


def test_email_waits_for_the_smtp_server_and_goes_once_it_is_back(
        api, greenmob, contact, rabbit_config, smtp_server, db_engines):
    smtp_server.stop()
    email, _headers, _event = accept_registration(api, greenmob, contact[1], rabbit_config)
    retried = wait_for(lambda: [row for row in emails(db_engines, "registration_accepted")
                                if row.attempts >= 2 and row.status == "pending"],
                       what="a retried email")
    assert "connect" in retried[0].last_error
    smtp_server.start()
    def acceptances() -> list:  # (not the verification link sent at sign-up)
        return [m for m in addressed_to(smtp_server, email) if "accepted" in m["Subject"]]

    [message] = wait_for(acceptances, what="the email after the outage")
    [row] = wait_for(lambda: [row for row in emails(db_engines, "registration_accepted")
                              if row.status == "sent"], what="the email marked sent")
    assert row.sent_at is not None and row.last_error is None
    assert len(acceptances()) == 1


def test_an_email_that_never_goes_ends_failed_after_the_limit(
        api, greenmob, contact, rabbit_config, smtp_server, db_engines, config):
    smtp_server.stop()
    accept_registration(api, greenmob, contact[1], rabbit_config)
    limit = config["NOTIFICATIONS"]["max_attempts"]
    [row] = wait_for(lambda: [row for row in emails(db_engines, "registration_accepted")
                              if row.status == "failed"], what="a failed email")
    assert row.attempts == limit and row.last_error


def test_the_inbox_is_personal_read_one_read_all_and_count(api, greenmob, contact, rabbit_config):
    _email, headers, _event = accept_registration(api, greenmob, contact[1], rabbit_config)
    contact_headers = contact[1]
    wait_for(lambda: api.get("/api/v1/notifications/unread-count", headers=contact_headers).json()
             == {"unread": 1}, what="the contact point's notification")
    [entry] = wait_for(lambda: api.get("/api/v1/notifications", headers=headers).json(),
                       what="the participant's notification")

    # Someone else's notification does not exist for them.
    assert api.post(f"/api/v1/notifications/{entry['id']}/read",
                    headers=contact_headers).status_code == 404
    assert api.post("/api/v1/notifications/no-such-id/read", headers=headers).status_code == 404
    assert api.get("/api/v1/notifications", headers={}).status_code == 401

    read = api.post(f"/api/v1/notifications/{entry['id']}/read", headers=headers)
    assert read.status_code == 200 and read.json()["read"] is True
    again = api.post(f"/api/v1/notifications/{entry['id']}/read", headers=headers)
    assert again.json()["read_at"] == read.json()["read_at"]
    assert api.get("/api/v1/notifications/unread-count", headers=headers).json() == {"unread": 0}
    assert api.get("/api/v1/notifications?unread=true", headers=headers).json() == []

    assert api.post("/api/v1/notifications/read-all", headers=contact_headers).json() == {"marked": 1}
    assert api.post("/api/v1/notifications/read-all", headers=contact_headers).json() == {"marked": 0}
    assert api.get("/api/v1/notifications/unread-count", headers=contact_headers).json() == {"unread": 0}


def test_preferences_choose_non_essential_email_with_a_version(api):
    _email, headers = sign_up(api)
    prefs = api.get("/api/v1/notifications/preferences", headers=headers)
    assert prefs.status_code == 200
    body = prefs.json()
    assert "contact_requested" in body["email_kinds"] and body["version"] == 0
    assert "registration_accepted" in body["essential_kinds"]
    assert "registration_accepted" not in body["available_kinds"]

    saved = api.put("/api/v1/notifications/preferences", headers=headers,
                    json={"email_kinds": ["message_posted"], "version": 0})
    assert saved.status_code == 200, saved.text
    assert saved.json()["email_kinds"] == ["message_posted"] and saved.json()["version"] == 1
    assert saved.headers["ETag"] == '"1"'

    unversioned = api.put("/api/v1/notifications/preferences", headers=headers, json={"email_kinds": []})
    assert unversioned.status_code == 200 and unversioned.json()["version"] == 2  # last write wins
    conflict = api.put("/api/v1/notifications/preferences", headers={**headers, "If-Match": '"1"'},
                       json={"email_kinds": []})
    assert conflict.status_code == 409
    essential = api.put("/api/v1/notifications/preferences", headers=headers,
                        json={"email_kinds": ["registration_accepted"]})
    assert essential.status_code == 422 and "email_kinds.0" in essential.json()["errors"]
    twice = api.put("/api/v1/notifications/preferences", headers=headers,
                    json={"email_kinds": ["message_posted", "message_posted"]})
    assert twice.status_code == 422
    assert api.put("/api/v1/notifications/preferences", json={"email_kinds": []}).status_code == 401


def test_an_api_key_has_no_inbox(api, contact, notifications_container):
    """A back-office key acts for a partnership, not a person: the inbox and its preferences
    are refused (its feed is webhooks), never a 500."""
    key = api.post("/api/v1/api-keys", json={"name": "erp"}, headers=contact[1]).json()["key"]
    backoffice = {"Authorization": f"Bearer {key}"}
    assert api.get("/api/v1/notifications", headers=backoffice).status_code == 403
    assert api.get("/api/v1/notifications/preferences", headers=backoffice).status_code == 403
    refused = api.put("/api/v1/notifications/preferences", json={"email_kinds": []},
                      headers=backoffice)
    assert refused.status_code == 403, refused.text
