"""Webhooks' rules without a broker: where a webhook may point (SSRF), signatures as the
documentation verifies them, which partnerships an event concerns, the back-off, claiming on
SQLite by several workers, and the AsyncAPI document."""

from __future__ import annotations

import ipaddress
import random
import socket
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from common.asyncapi import asyncapi_document
from common.db import utcnow
from common.event_schemas import PUBLIC_EVENTS
from services.notifications import signing, ssrf, webhook_delivery, webhook_http, webhook_scope
from services.notifications.models import Base
from services.notifications.webhook_models import WebhookDelivery, WebhookEndpoint
from tests.e2e.test_webhooks import documented_verifier
from tests.webhook_receiver import running


def resolving_to(*addresses: str):
    def resolver(host, port, *_args):
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in addresses]
    return resolver


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.0.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1",
    "ff02::1", "::ffff:10.0.0.1", "::ffff:127.0.0.1", "2002:a00:1::1", "64:ff9b::a00:1",
    "2001:db8::1"])
def test_non_public_addresses_are_refused(address):
    assert not ssrf.is_public(ipaddress.ip_address(address))
    with pytest.raises(ssrf.UnsafeTarget):
        ssrf.check(f"https://{'[' + address + ']' if ':' in address else address}/hook")


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c",
                                     "2002:5db8:d70e::1"])
def test_public_addresses_pass(address):
    assert ssrf.is_public(ipaddress.ip_address(address))


def test_a_name_is_judged_by_every_address_it_resolves_to():
    target, found = ssrf.check("https://hooks.example.eu/x?y=1", resolver=resolving_to("93.184.215.14"))
    assert (target.host, target.port, target.path) == ("hooks.example.eu", 443, "/x?y=1")
    assert [str(a) for a in found] == ["93.184.215.14"]
    for addresses in (("10.0.0.7",), ("93.184.215.14", "192.168.1.1"), ("::ffff:172.16.0.1",)):
        with pytest.raises(ssrf.UnsafeTarget, match="not a public address"):
            ssrf.check("https://hooks.example.eu/", resolver=resolving_to(*addresses))

    def unknown(*_args):
        raise socket.gaierror("no such name")
    with pytest.raises(ssrf.UnsafeTarget, match="does not resolve"):
        ssrf.check("https://nowhere.example.eu/", resolver=unknown)


@pytest.mark.parametrize("url", ["http://example.eu/", "ftp://example.eu/", "https://u:p@example.eu/",
                                 "https:///nohost", "https://example.eu/#frag", "example.eu/hook",
                                 "https://exa mple.eu/", "https://example.eu:99999/", ""])
def test_malformed_or_insecure_urls_are_refused(url):
    with pytest.raises(ssrf.UnsafeTarget):
        ssrf.parse(url)


def test_development_may_allow_plain_http_and_local_addresses():
    target, found = ssrf.check("http://127.0.0.1:8080/hook", allow_insecure=True)
    assert target.host_header == "127.0.0.1:8080" and str(found[0]) == "127.0.0.1"
    assert ssrf.parse("https://[::1]:8443/h", allow_insecure=True).host_header == "[::1]:8443"


def test_a_delivery_connects_to_the_address_it_checked_never_to_a_rebound_one():
    """A name that resolved to a public address at registration and now resolves to a local
    one (DNS rebinding) is refused before any connection: the receiver listening there hears
    nothing."""
    for local in running():
        answer = webhook_http.post(f"https://rebind.example.eu:{local.port}/hook", b"{}", {},
                                   connect_timeout=1, read_timeout=1, allow_insecure=False,
                                   resolver=resolving_to("127.0.0.1"))
        assert answer.status is None and "not a public address" in answer.error
        assert local.received == []
        # The checked address is the one used: the name itself is never looked up again.
        answer = webhook_http.post(f"http://pinned.invalid:{local.port}/hook", b"{}", {"X-A": "1"},
                                   connect_timeout=1, read_timeout=1, allow_insecure=True,
                                   resolver=resolving_to("127.0.0.1"))
        assert answer.ok and answer.status == 200
        [request] = local.received
        assert request.headers["Host"] == f"pinned.invalid:{local.port}"
        assert request.headers["X-A"] == "1"


def test_signatures_verify_with_the_documented_snippet_for_every_secret_in_force():
    verify = documented_verifier()
    body, stamp = b'{"event_id":"e1"}', 1_800_000_000
    old, new = signing.new_secret(), signing.new_secret()
    header = signing.signature_header([new, old], stamp, body)
    assert header.count("v1=") == 2 and header.startswith(f"t={stamp},")
    assert verify(header, body, [old], now=stamp) and verify(header, body, [new], now=stamp + 299)
    assert not verify(header, body, [signing.new_secret()], now=stamp)
    assert not verify(header, body + b"x", [new], now=stamp)
    assert not verify(header, body, [new], now=stamp - 301)
    assert not verify(header.replace(f"t={stamp}", f"t={stamp + 1}"), body, [new], now=stamp)
    assert not verify("v1=abc", body, [new], now=stamp)


def test_secrets_are_sealed_at_rest(tmp_path):
    box = signing.secret_box({"secret_keys": "", "keys_dir": str(tmp_path)})
    sealed = box.seal("whsec_abc")
    assert "whsec_abc" not in sealed and box.open(sealed) == "whsec_abc"
    again = signing.secret_box({"secret_keys": "", "keys_dir": str(tmp_path)})
    assert again.open(sealed) == "whsec_abc"  # the local key file is made once
    with pytest.raises(RuntimeError):
        signing.SecretBox(signing.local_keys(tmp_path / "other")).open(sealed)


def _event(event_type: str, **fields) -> dict:
    return {"event_id": "e", "event_type": event_type, **fields}


def test_each_event_concerns_the_partnerships_it_names():
    concerned = webhook_scope.partnerships_concerned
    assert concerned(_event("registration_accepted", partnership_id="A"), {}) == {"A"}
    assert concerned(_event("exchange_validated", visitor_partnership_id="A",
                            host_partnership_id="B"), {}) == {"A", "B"}
    assert concerned(_event("payout_paid", partnership_id="A"), {}) == {"A"}
    contact = _event("contact_requested", requester_registration_id="r1", recipient_registration_id="r2")
    assert webhook_scope.named_registrations(contact) == {"r1", "r2"}
    assert concerned(contact, {"r1": "A", "r2": "B"}) == {"A", "B"}
    assert concerned(contact, {"r1": "A"}) == {"A"}
    assert concerned(_event("password_reset_requested", partnership_id="A"), {}) == set()
    assert concerned(_event("no_such_event", partnership_id="A"), {}) == set()


def test_the_back_off_doubles_up_to_the_cap_with_jitter():
    rng = random.Random(7)
    for attempts, delay in ((1, 30), (2, 60), (3, 120), (10, 3600)):
        waits = [webhook_delivery.backoff(attempts, 30, 3600, rng) for _ in range(50)]
        assert all(delay / 2 <= w <= delay for w in waits)
        assert len(set(waits)) > 1


@pytest.fixture
def sqlite_engine(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'n.db'}")
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def test_workers_claim_disjoint_batches_on_sqlite_and_take_up_expired_leases(sqlite_engine):
    now = utcnow()
    with Session(sqlite_engine) as session:
        for endpoint_id, active in (("on", True), ("off", False)):
            session.add(WebhookEndpoint(id=endpoint_id, partnership_id="p", url=f"https://x/{endpoint_id}",
                                        event_types=["payout_paid"], active=active, sealed_secret="s",
                                        created_by="a"))
        session.flush()
        for index in range(5):
            for endpoint_id in ("on", "off"):
                assert webhook_delivery.enqueue(session, endpoint_id=endpoint_id, at=now,
                                                event={"event_id": f"e{index}", "event_type": "payout_paid"})
        assert not webhook_delivery.enqueue(session, endpoint_id="on", at=now,
                                            event={"event_id": "e0", "event_type": "payout_paid"})
        session.commit()
    with Session(sqlite_engine) as first, Session(sqlite_engine) as second:
        a = webhook_delivery.claim_due(first, now, 3, 60)
        b = webhook_delivery.claim_due(second, now, 3, 60)
    assert len(a) == 3 and len(b) == 2 and not {c.id for c in a} & {c.id for c in b}
    assert {c.endpoint_id for c in a + b} == {"on"} and all(c.attempt == 1 for c in a + b)
    with Session(sqlite_engine) as session:
        assert webhook_delivery.claim_due(session, now, 10, 60) == []
        # A worker that died: its lease runs out and the deliveries are taken up again.
        later = webhook_delivery.claim_due(session, now + timedelta(seconds=61), 10, 60)
    assert len(later) == 5 and all(c.attempt == 2 for c in later)
    with Session(sqlite_engine) as session:
        item = later[0]
        settings = {"max_attempts": 2, "retry_base_seconds": 1, "retry_cap_seconds": 1}
        stale = webhook_delivery.Claimed(**{**item.__dict__, "attempt": 1})
        assert webhook_delivery.record(session, stale, webhook_http.Answer(200, 5, None), now, now,
                                       settings) == "superseded"
        assert webhook_delivery.record(session, item, webhook_http.Answer(500, 5, "answered 500"), now,
                                       now, settings) == webhook_delivery.FAILED
        session.commit()
        row = session.scalars(select(WebhookDelivery).where(WebhookDelivery.id == item.id)).one()
        assert (row.status, row.last_status, row.claim_token) == ("failed", 500, None)


def test_the_asyncapi_document_is_generated_from_the_contracts():
    document = asyncapi_document()
    assert document["asyncapi"] == "2.6.0"
    assert list(document["channels"]) == list(PUBLIC_EVENTS)
    schemas = document["components"]["schemas"]
    payout = schemas["PayoutPaidEvent"]
    assert {"batch_id", "amount_cents", "event_id"} <= set(payout["required"])
    assert payout["properties"]["actor_id"]["type"] == ["string", "null"]
    assert "additionalProperties" not in payout
    message = document["components"]["messages"]["contact_requested"]
    assert message["payload"] == {"$ref": "#/components/schemas/ContactEvent"}
    refs = [value for value in _walk(document) if isinstance(value, str) and value.startswith("#/")]
    for ref in refs:
        node = document
        for part in ref[2:].split("/"):
            node = node[part]  # every reference resolves
    for channel, spec in document["channels"].items():
        assert spec["bindings"]["amqp"]["exchange"]["name"].endswith(".events"), channel


def _walk(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)
    else:
        yield node
