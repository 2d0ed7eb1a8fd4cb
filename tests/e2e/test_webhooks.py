"""Webhooks over HTTP against a real receiver: one signed delivery per event and endpoint whose
signature verifies with the procedure printed in docs/webhooks.md, nothing more on a replay,
retries logged attempt by attempt, rotation's double signature, a partnership's events to that
partnership only, unsafe URLs refused, and who may manage what."""

from __future__ import annotations

import json
import re
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nameko.testing.services import entrypoint_waiter
from sqlalchemy import text

from tests.e2e.test_notifications import accept_registration, wait_for
from tests.helpers import login, make_account, partnership_id, publish_event, sign_up, unique_email
from tests.webhook_receiver import Receiver, running

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("notifications_container")]

DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
HOOKS = "/api/v1/webhooks"


def documented_verifier():
    """`verify_signature` exactly as docs/webhooks.md prints it."""
    snippet = re.search(r"```python\n(.*?)```", DOCS.read_text(), re.S).group(1)
    namespace: dict[str, Any] = {}
    exec(compile(snippet, str(DOCS), "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace["verify_signature"]


verify_signature = documented_verifier()


def signatures(header: str) -> list[str]:
    return [part.split("=", 1)[1] for part in header.split(",") if part.startswith("v1=")]


def deliveries(db_engines, endpoint_id: str | None = None) -> list[Any]:
    with db_engines["notifications"].connect() as conn:
        rows = conn.execute(text("SELECT * FROM webhook_deliveries ORDER BY id")).all()
    return [row for row in rows if endpoint_id is None or row.endpoint_id == endpoint_id]


def backoffice_headers(tokens, partnership: str) -> dict[str, str]:
    token, _ttl = tokens.issue(str(uuid.uuid4()), ["backoffice"], None, partnership)
    return {"Authorization": f"Bearer {token}"}


def register(api, headers, url: str, event_types: list[str], **extra: Any) -> dict[str, Any]:
    created = api.post(HOOKS, json={"url": url, "event_types": event_types, **extra}, headers=headers)
    assert created.status_code == 201, created.text
    return created.json()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from running()


@pytest.fixture
def greenmob(db_engines) -> str:
    return partnership_id(db_engines["registration"], "GREENMOB")


@pytest.fixture
def contact(api, db_engines) -> dict[str, str]:
    email = unique_email("contact")
    make_account(db_engines["registration"], email, ["partnership_contact"], "GREENMOB")
    return login(api, email)


@pytest.fixture
def other_partnership(db_engines, tokens) -> dict[str, str]:
    """A back-office key of another partnership."""
    return backoffice_headers(tokens, partnership_id(db_engines["registration"], "AGRIFOOD-X"))


def test_an_accepted_registration_is_one_signed_delivery_to_its_partnership_only(
        api, greenmob, contact, other_partnership, receiver, rabbit_config, db_engines, config,
        notifications_container):
    ours = register(api, contact, receiver.url("/ours"), ["registration_accepted"])
    assert ours["secret"].startswith("whsec_") and ours["partnership_id"] == greenmob
    theirs = register(api, other_partnership, receiver.url("/theirs"),
                      ["registration_submitted", "registration_accepted"])
    assert "secret" not in api.get(f"{HOOKS}/{ours['id']}", headers=contact).json()

    _email, _headers, event = accept_registration(api, greenmob, contact, rabbit_config)

    [request] = wait_for(lambda: receiver.at("/ours"), what="the delivery")
    assert request.headers["CXC-Event-Id"] == event["event_id"]
    assert request.headers["CXC-Event-Type"] == "registration_accepted"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == event
    header = request.headers["CXC-Signature"]
    assert header.startswith(f"t={request.headers['CXC-Timestamp']},v1=")
    assert verify_signature(header, request.body, [ours["secret"]])
    assert not verify_signature(header, request.body + b" ", [ours["secret"]])
    assert not verify_signature(header, request.body, [theirs["secret"]])
    assert not verify_signature(header, request.body, [ours["secret"]],
                                now=int(request.headers["CXC-Timestamp"]) + 301)

    # The other partnership's endpoint had no delivery made in that transaction (nor for the
    # submission before it): not its member.
    assert deliveries(db_engines, theirs["id"]) == []
    assert receiver.at("/theirs") == []

    # A redelivered event adds nothing.
    with entrypoint_waiter(notifications_container, "handle_registration_event", timeout=10):
        publish_event(config, "registration", event)
    assert len(deliveries(db_engines, ours["id"])) == 1
    log = wait_for(lambda: [d for d in api.get(f"{HOOKS}/{ours['id']}/deliveries", headers=contact).json()
                            if d["status"] == "delivered"], what="the logged delivery")
    [entry] = log
    assert entry["event_id"] == event["event_id"] and entry["attempts"] == 1
    assert [(a["attempt"], a["response_status"], a["outcome"]) for a in entry["attempt_log"]] == [
        (1, 200, "delivered")]
    assert entry["attempt_log"][0]["duration_ms"] >= 0 and entry["next_attempt_at"] is None
    assert len(receiver.at("/ours")) == 1


def test_a_failing_receiver_is_retried_each_attempt_logged_until_it_answers(
        api, greenmob, contact, receiver, rabbit_config, db_engines):
    receiver.answer("/flaky", 500, 503)
    hook = register(api, contact, receiver.url("/flaky"), ["registration_accepted"])
    _email, _headers, event = accept_registration(api, greenmob, contact, rabbit_config)

    wait_for(lambda: len(receiver.at("/flaky")) == 3, what="three attempts")
    requests_seen = receiver.at("/flaky")
    assert {r.headers["CXC-Event-Id"] for r in requests_seen} == {event["event_id"]}
    assert [r.headers["CXC-Delivery-Attempt"] for r in requests_seen] == ["1", "2", "3"]
    assert all(verify_signature(r.headers["CXC-Signature"], r.body, [hook["secret"]])
               for r in requests_seen)
    [entry] = wait_for(lambda: [d for d in api.get(f"{HOOKS}/{hook['id']}/deliveries",
                                                   headers=contact).json()
                                if d["status"] == "delivered"], what="delivered")
    assert [(a["attempt"], a["response_status"], a["outcome"]) for a in entry["attempt_log"]] == [
        (1, 500, "retry"), (2, 503, "retry"), (3, 200, "delivered")]
    assert all(a["next_attempt_at"] for a in entry["attempt_log"][:2])
    assert entry["attempt_log"][0]["error"] == "answered 500"
    assert entry["last_status"] == 200 and entry["last_error"] is None


def test_a_receiver_that_never_answers_well_ends_failed_and_a_redirect_is_not_followed(
        api, contact, receiver, db_engines, config):
    limit = config["WEBHOOKS"]["max_attempts"]
    receiver.answer("/moved", *[(302, {"Location": "http://10.0.0.1/steal"})] * limit)
    hook = register(api, contact, receiver.url("/moved"), ["registration_accepted"])
    ping = api.post(f"{HOOKS}/{hook['id']}/ping", headers=contact)
    assert ping.status_code == 202, ping.text

    [entry] = wait_for(lambda: [d for d in api.get(f"{HOOKS}/{hook['id']}/deliveries?status=failed",
                                                   headers=contact).json()], what="failed")
    assert entry["event_id"] == ping.json()["event_id"] and entry["event_type"] == "webhook_ping"
    assert entry["attempts"] == limit and len(entry["attempt_log"]) == limit
    assert all(a["response_status"] == 302 and "http://10.0.0.1/steal" in a["error"]
               and "not followed" in a["error"] for a in entry["attempt_log"])
    assert entry["attempt_log"][-1]["outcome"] == "failed"
    assert len(receiver.at("/moved")) == limit
    assert [r.path for r in receiver.received] == ["/moved"] * limit


def test_rotation_signs_with_both_secrets_during_the_overlap(api, contact, receiver):
    hook = register(api, contact, receiver.url("/rotating"), ["registration_accepted"])
    old = hook["secret"]
    rotated = api.post(f"{HOOKS}/{hook['id']}/rotate-secret", json={"overlap_seconds": 3600},
                       headers=contact)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != old and rotated.json()["previous_secret_expires_at"]
    assert api.post(f"{HOOKS}/{hook['id']}/ping", headers=contact).status_code == 202
    [request] = wait_for(lambda: receiver.at("/rotating"), what="the ping")
    header = request.headers["CXC-Signature"]
    assert len(signatures(header)) == 2
    assert verify_signature(header, request.body, [old])
    assert verify_signature(header, request.body, [new])

    # No overlap: the old secret stops signing at once.
    newest = api.post(f"{HOOKS}/{hook['id']}/rotate-secret", json={"overlap_seconds": 0},
                      headers=contact).json()
    assert newest["previous_secret_expires_at"] is None
    api.post(f"{HOOKS}/{hook['id']}/ping", headers=contact)
    second = wait_for(lambda: receiver.at("/rotating")[1:], what="the second ping")[0]
    assert len(signatures(second.headers["CXC-Signature"])) == 1
    assert verify_signature(second.headers["CXC-Signature"], second.body, [newest["secret"]])
    assert not verify_signature(second.headers["CXC-Signature"], second.body, [new, old])


def test_only_the_partnership_manages_its_webhooks(api, contact, other_partnership, tokens,
                                                    greenmob, db_engines, receiver):
    backoffice = backoffice_headers(tokens, greenmob)
    hook = register(api, backoffice, receiver.url("/managed"), ["payout_paid"])
    _email, participant = sign_up(api)
    admin_email = unique_email("admin")
    make_account(db_engines["registration"], admin_email, ["admin"])
    admin = login(api, admin_email)
    path = f"{HOOKS}/{hook['id']}"

    # The partnership's contact point sees what its back-office key made.
    assert [h["id"] for h in api.get(HOOKS, headers=contact).json()] == [hook["id"]]
    for headers in (participant, admin):
        assert api.get(HOOKS, headers=headers).status_code == 403
        assert api.post(HOOKS, json={"url": receiver.url("/x"), "event_types": ["payout_paid"]},
                        headers=headers).status_code == 403
    assert api.get(HOOKS).status_code == 401
    # Another partnership: as if it did not exist.
    assert api.get(HOOKS, headers=other_partnership).json() == []
    for method, suffix, body in (("GET", "", None), ("PATCH", "", {"active": False, "version": 1}),
                                 ("DELETE", "", None), ("POST", "/rotate-secret", {}),
                                 ("POST", "/ping", None), ("GET", "/deliveries", None)):
        answer = api.request(method, path + suffix, json=body, headers=other_partnership)
        assert answer.status_code == 404, (method, suffix, answer.text)
    assert api.get(f"{HOOKS}/no-such-webhook", headers=contact).status_code == 404

    # Versioned edits.
    patch = {"headers": {**contact, "Content-Type": "application/merge-patch+json"}}
    assert api.patch(path, data=json.dumps({"active": False}), **patch).status_code == 428
    assert api.patch(path, data=json.dumps({"active": False, "version": 7}), **patch).status_code == 409
    etag = api.get(path, headers=contact).headers["ETag"]
    change = {"active": False, "event_types": ["payout_paid", "payout_failed"]}
    edited = api.patch(path, data=json.dumps(change), headers={**patch["headers"], "If-Match": etag})
    assert edited.status_code == 200, edited.text
    assert edited.json()["active"] is False and edited.json()["version"] == 2

    # Bad input and duplicates.
    for body, field in (({"url": receiver.url("/y"), "event_types": ["password_reset_requested"]},
                         "event_types.0"),
                        ({"url": receiver.url("/y"), "event_types": []}, "event_types"),
                        ({"url": "ftp://example.eu/x", "event_types": ["payout_paid"]}, "url")):
        refused = api.post(HOOKS, json=body, headers=contact)
        assert refused.status_code == 422, refused.text
        assert field in refused.json()["errors"], refused.json()
    duplicate = api.post(HOOKS, json={"url": receiver.url("/managed"), "event_types": ["payout_paid"]},
                         headers=contact)
    assert duplicate.status_code == 409 and hook["id"] in duplicate.json()["detail"]

    deleted = api.delete(path, headers=contact)
    assert deleted.status_code == 200 and deleted.json() == {"id": hook["id"], "deleted": True}
    assert api.get(path, headers=contact).status_code == 404


@pytest.fixture
def strict_api(config, request):
    """The system with the production rule: https and public addresses only."""
    config["WEBHOOKS"] = {**config["WEBHOOKS"], "allow_insecure": False}
    return request.getfixturevalue("api")


def _private_hostname() -> str | None:
    """This machine's own name, when it resolves to a private address (it usually does)."""
    import ipaddress

    name = socket.gethostname()
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(name, 443)}
    except OSError:
        return None
    private = [a for a in addresses if ipaddress.ip_address(a.split("%")[0]).is_private
               and not ipaddress.ip_address(a.split("%")[0]).is_loopback]
    return name if private else None


def test_unsafe_urls_are_refused_when_insecure_targets_are_not_allowed(strict_api, db_engines):
    api = strict_api
    email = unique_email("contact")
    make_account(db_engines["registration"], email, ["partnership_contact"], "GREENMOB")
    contact = login(api, email)
    unsafe = ["http://127.0.0.1:9/hook", "https://127.0.0.1/hook", "https://10.0.0.1/hook",
              "https://192.168.1.20/hook", "https://169.254.169.254/latest/meta-data",
              "https://[::1]/hook", "https://[::ffff:10.0.0.1]/hook", "https://[fe80::1]/hook",
              "https://0.0.0.0/hook", "https://localhost/hook", "https://user:pw@example.eu/hook",
              "http://example.eu/hook"]
    private_name = _private_hostname()
    if private_name:
        unsafe.append(f"https://{private_name}/hook")
    for url in unsafe:
        refused = api.post(HOOKS, json={"url": url, "event_types": ["payout_paid"]}, headers=contact)
        assert refused.status_code == 422, (url, refused.text)
        assert "url" in refused.json()["errors"], url
    assert deliveries(db_engines) == []
    with db_engines["notifications"].connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM webhook_endpoints")).scalar() == 0


def test_the_asyncapi_document_lists_the_public_events(api):
    from common.event_schemas import PUBLIC_EVENTS

    answer = api.get("/api/v1/asyncapi.json")
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/json"
    document = answer.json()
    assert document["asyncapi"] == "2.6.0"
    assert set(document["channels"]) == set(PUBLIC_EVENTS)
    assert "password_reset_requested" not in json.dumps(document)
    accepted = document["channels"]["registration_accepted"]
    assert accepted["bindings"]["amqp"]["exchange"]["name"] == "registration.events"
    assert "/api/v1/asyncapi.json" in api.get("/api/v1/openapi.json").json()["paths"]
