"""The notifications service through the broker: service tokens, the read-only lookups they
open, every source's events reaching the people they concern, account emails."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from nameko.standalone.rpc import ClusterRpcProxy
from nameko.testing.services import entrypoint_waiter
from sqlalchemy import text

from common.errors import NotAllowed, Unauthorized
from common.events import make_event
from common.service_identity import service_secret
from services.registration.service import RegistrationService
from tests.helpers import make_account, partnership_id, publish_event, unique_email


def wait_for(condition, timeout: float = 20, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _proxy(config: dict[str, Any], token: str | None) -> ClusterRpcProxy:
    return ClusterRpcProxy(config, context_data={"auth_token": token} if token else {}, timeout=10)


def _service_token(config: dict[str, Any], service: str = "notifications") -> str:
    with _proxy(config, None) as proxy:
        return proxy.registration.issue_service_token(service, service_secret(config, service))[
            "access_token"]


def _rows(db_engines, sql: str) -> list[Any]:
    with db_engines["notifications"].connect() as conn:
        return conn.execute(text(sql)).all()


def test_a_service_token_for_the_right_secret_only(config, registration_container, tokens):
    with _proxy(config, None) as proxy:
        for service, secret in (("notifications", "wrong"), ("nobody", "x"),
                                ("registration", service_secret(config, "registration"))):
            with pytest.raises(Unauthorized):
                proxy.registration.issue_service_token(service, secret)
        answer = proxy.registration.issue_service_token("notifications",
                                                        service_secret(config, "notifications"))
    caller = tokens.verify(answer["access_token"])
    assert caller.account_id == "service:notifications" and caller.roles == {"service"}
    assert answer["expires_in"] == config["SERVICE_IDENTITY"]["ttl_seconds"]


def test_the_lookups_answer_the_notifications_token_and_nobody_else(
        config, registration_container, agreements_container, tokens, db_engines):
    account = make_account(db_engines["registration"], unique_email("p"), ["participant"])
    greenmob = partnership_id(db_engines["registration"], "GREENMOB")
    contact = make_account(db_engines["registration"], unique_email("c"), ["partnership_contact"],
                           "GREENMOB")
    request = {"account_ids": [account], "partnership_ids": [greenmob]}
    participant, _ = tokens.issue(account, ["participant"], None, None)
    admin, _ = tokens.issue(account, ["admin"], None, None)
    for token in (participant, admin, _service_token(config, "payments")):
        with _proxy(config, token) as proxy:
            with pytest.raises(NotAllowed):
                proxy.registration.notification_recipients(request)
            with pytest.raises(NotAllowed):
                proxy.agreements.notification_parties([str(uuid.uuid4())])
    with _proxy(config, _service_token(config)) as proxy:
        found = proxy.registration.notification_recipients(request)
        assert proxy.agreements.notification_parties([str(uuid.uuid4())]) == {}
    assert found["accounts"][account]["email"].startswith("p.")
    assert [c["account_id"] for c in found["contact_points"][greenmob]] == [contact]
    assert found["partnerships"][greenmob]["code"] == "GREENMOB"


def test_a_service_token_is_refused_over_http(config, gateway_url):
    import requests

    token = _service_token(config)
    answer = requests.get(f"{gateway_url}/api/v1/notifications",
                          headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 401


def test_contact_events_reach_their_parties(config, registration_container, notifications_container,
                                            db_engines, smtp_server):
    requester = make_account(db_engines["registration"], unique_email("req"), ["participant"])
    recipient = make_account(db_engines["registration"], unique_email("rec"), ["participant"])
    base = {"contact_id": str(uuid.uuid4()), "requester_account_id": requester,
            "recipient_account_id": recipient, "requester_registration_id": str(uuid.uuid4()),
            "recipient_registration_id": str(uuid.uuid4())}
    with entrypoint_waiter(notifications_container, "handle_matching_event", timeout=10):
        publish_event(config, "matching", make_event("contact_requested", {**base, "status": "open"},
                                                     requester))
    with entrypoint_waiter(notifications_container, "handle_matching_event", timeout=10):
        publish_event(config, "matching", make_event("message_posted", {
            **base, "status": "accepted", "message_id": "m1", "author_account_id": recipient},
            recipient))
    rows = _rows(db_engines, "SELECT account_id, event_type, role FROM notifications ORDER BY event_type")
    assert [tuple(row) for row in rows] == [(recipient, "contact_requested", "recipient"),
                                            (requester, "message_posted", "requester")]
    # contact_requested is emailed by default; message_posted is not.
    [email] = wait_for(lambda: [m for m in smtp_server.messages() if m["To"].startswith("rec.")],
                       what="the request's email")
    assert "asks to get in touch" in email["Subject"]
    assert [row.event_type for row in _rows(db_engines, "SELECT event_type FROM email_messages")] == [
        "contact_requested"]


def test_a_payout_reaches_the_visitor_found_through_agreements(
        config, registration_container, agreements_container, notifications_container, db_engines,
        smtp_server):
    # payments' events name the exchange and the visitor's partnership; an exchange unknown to
    # agreements leaves only the partnership's contact points to tell.
    contact = make_account(db_engines["registration"], unique_email("cp"), ["partnership_contact"],
                           "GREENMOB")
    greenmob = partnership_id(db_engines["registration"], "GREENMOB")
    event = make_event("payout_failed", {
        "payout_id": "po1", "claim_id": "c1", "exchange_id": str(uuid.uuid4()),
        "reference": "CXC-2026-000001", "partnership_id": greenmob, "amount_cents": 110000,
        "state": "failed", "due_on": "2027-01-10"})
    with entrypoint_waiter(notifications_container, "handle_payments_event", timeout=10):
        publish_event(config, "payments", event)
    [row] = _rows(db_engines, "SELECT account_id, role, title FROM notifications")
    assert (row.account_id, row.role) == (contact, "visitor_contact_point")
    [message] = wait_for(lambda: smtp_server.messages(), what="the payout email")
    assert "€1,100.00" in smtp_server.parts(message)["text/plain"]


def test_an_account_email_goes_to_the_address_registration_names_with_its_link(
        config, registration_container, notifications_container, db_engines, smtp_server):
    """Registration's real reset request, through its outbox and notifications' service
    token, to one email whose link sets the password once."""
    address = unique_email("owner")
    make_account(db_engines["registration"], address, ["participant"])
    with ClusterRpcProxy(config) as cluster:
        cluster.registration.request_password_reset({"email": address})
        cluster.registration.request_password_reset({"email": unique_email("nobody")})
        [message] = wait_for(lambda: smtp_server.messages(), what="the reset email")
        assert message["To"] == address
        base = config["NOTIFICATIONS"]["public_base_url"]
        [link] = [line.split(": ", 1)[1] for line in smtp_server.parts(message)["text/plain"].splitlines()
                  if "token=" in line]
        assert link.startswith(f"{base}/account/reset?token=")
        token = link.split("token=", 1)[1]
        cluster.registration.confirm_password_reset({"token": token,
                                                     "new_password": "a-new-password-2026"})
    assert _rows(db_engines, "SELECT id FROM notifications") == []  # email only
    wait_for(lambda: all(row.status == "sent" for row in _rows(
        db_engines, "SELECT status FROM email_messages")), what="marked sent")
    # The one-time link is not kept once the server took the message.
    bodies = _rows(db_engines, "SELECT text_body, html_body FROM email_messages WHERE "
                               "event_type = 'password_reset_requested'")
    assert bodies and all(row.text_body == "" and row.html_body == "" for row in bodies)
    # The new password is confirmed by its own security notice.
    wait_for(lambda: len(smtp_server.messages()) == 2, what="the password-changed notice")
    notice = [m for m in smtp_server.messages() if "changed" in m["Subject"]]
    assert notice and notice[0]["To"] == address


def test_an_event_nobody_can_resolve_is_parked_and_replayed_once_registration_is_back(
        config, container_factory, db_engines):
    from common import parking
    from services.notifications.service import NotificationsService

    fast = {**config, "EVENT_RETRY_BASE_SECONDS": 0.001, "EVENT_RETRY_CAP_SECONDS": 0.01,
            "RPC_TIMEOUT_SECONDS": 1}
    container_factory(NotificationsService, fast).start()  # registration is not running
    recipient = make_account(db_engines["registration"], unique_email("rec"), ["participant"])
    event = make_event("contact_requested", {
        "contact_id": str(uuid.uuid4()), "status": "open", "requester_account_id": str(uuid.uuid4()),
        "recipient_account_id": recipient})
    publish_event(config, "matching", event)
    [parked] = wait_for(lambda: parking.list_parked(config["AMQP_URI"], ["notifications"]), 90,
                        "the event parked")
    assert parked.event_id == event["event_id"]
    assert parked.queue == "evt-matching-all--notifications.handle_matching_event"
    assert _rows(db_engines, "SELECT id FROM notifications") == []

    container_factory(RegistrationService, fast).start()
    [replayed] = parking.replay(config["AMQP_URI"], ["notifications"])
    assert replayed.event_id == event["event_id"]
    [row] = wait_for(lambda: _rows(db_engines, "SELECT account_id FROM notifications"), 30,
                     "the replayed event's notification")
    assert row.account_id == recipient
    assert parking.list_parked(config["AMQP_URI"], ["notifications"]) == []
