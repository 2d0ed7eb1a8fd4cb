"""Building blocks for tests: valid payloads, accounts, tokens, documents."""

from __future__ import annotations

import io
import json
import secrets
import zipfile
from copy import deepcopy
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

PASSWORD = "correct horse battery staple"

MINIMAL_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
               b"2 0 obj<</Type/Pages/Count 0/Kids[]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")


def docx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def exe_bytes() -> bytes:
    return b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}.{secrets.token_hex(4)}@example.eu"


def registration_payload(partnership_id: str, country: str = "PT", roles: list[str] | None = None,
                         **overrides: Any) -> dict[str, Any]:
    start = date.today() + timedelta(days=40)
    payload = {
        "partnership_id": partnership_id,
        "roles": roles or ["visitor"],
        "organisation": {
            "name": "Cluster Têxtil Norte", "type": "cluster_organisation", "country": country,
            "city": "Porto", "website": "https://example.org/ctn", "employees": 14,
            "latitude": 41.15, "longitude": -8.61,
        },
        "representative": {
            "first_name": "Ana", "last_name": "Ferreira", "email": "ana@example.org",
            "phone": "+351 22 000 0000", "position": "Cluster manager",
            "date_of_birth": "1986-03-14", "nationality": country,
        },
        "motivation": "Learn how textile clusters abroad adopt circular production.",
        "expertise": "Circular textiles, cluster management.",
        "preferences": {
            "sectors": ["textiles"], "objectives": ["learn"], "activity_types": ["knowledge_sharing"],
            "languages": ["pt", "en"], "modes": ["physical"], "target_countries": ["DE"],
            "availability": [{"start": start.isoformat(),
                              "end": (start + timedelta(days=30)).isoformat()}],
        },
    }
    merged = deepcopy(payload)
    merged.update(overrides)
    return merged


def make_account(engine: Any, email: str, roles: list[str], partnership_code: str | None = None) -> str:
    from services.registration.models import Partnership
    from services.registration.repository import create_account

    with Session(engine) as session:
        partnership_id = None
        if partnership_code:
            partnership_id = session.scalar(
                select(Partnership.id).where(Partnership.code == partnership_code))
        account = create_account(session, email, PASSWORD, email.split("@")[0], roles, partnership_id)
        session.commit()
        return account.id


def partnership_id(engine: Any, code: str) -> str:
    from services.registration.models import Partnership

    with Session(engine) as session:
        return session.scalar(select(Partnership.id).where(Partnership.code == code))


def login(api: Any, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = api.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def sign_up(api: Any, prefix: str = "participant", verify: bool = True,
            full_name: str = "Ana Ferreira") -> tuple[str, dict[str, str]]:
    """A new participant, signed in; with its email verified (as by following the link of
    the verification email) unless `verify` is False."""
    email = unique_email(prefix)
    response = api.post("/api/v1/accounts",
                        json={"email": email, "password": PASSWORD, "full_name": full_name})
    assert response.status_code == 202, response.text
    headers = login(api, email)
    if verify:
        account_id = api.get("/api/v1/me", headers=headers).json()["id"]
        token = quick_link(api.config, account_id, "email_verification_requested")
        verified = api.post("/api/v1/account/verify", json={"token": token})
        assert verified.status_code == 200, verified.text
    return email, headers


def service_token(config: dict[str, Any], service: str = "notifications") -> str:
    """A token of another service, as the service-token mechanism issues them."""
    from common.auth import TokenService

    return TokenService(config["JWT"], generate=False).issue(f"service:{service}", ["service"],
                                                             None, None)[0]


def account_requests(config: dict[str, Any], account_id: str, event_type: str) -> list[str]:
    """The request ids of the account emails registration asked for, oldest first (read from
    its outbox, as the notifications service would receive them)."""
    from sqlalchemy import text

    with _engine(config["DATABASE_URLS"]["registration"]).connect() as conn:
        rows = conn.execute(text("SELECT payload FROM outbox WHERE event_type = :t ORDER BY id"),
                            {"t": event_type}).scalars().all()
    payloads = [json.loads(row) if isinstance(row, str) else row for row in rows]  # SQLite: text
    return [p["request_id"] for p in payloads if p.get("account_id") == account_id]


def message_context(config: dict[str, Any], account_id: str,
                    request_id: str | None) -> dict[str, Any]:
    """What registration tells the notifications service for one account email."""
    from nameko.standalone.rpc import ClusterRpcProxy

    with ClusterRpcProxy(config, context_data={"auth_token": service_token(config)},
                         timeout=10) as proxy:
        return proxy.registration.account_message_context(
            {"account_id": account_id, "request_id": request_id})


def account_link(config: dict[str, Any], account_id: str, event_type: str) -> str:
    """The token of the latest such account email: what its link carries."""
    requests = account_requests(config, account_id, event_type)
    assert requests, f"no {event_type} for {account_id}"
    return message_context(config, account_id, requests[-1])["token"]


def quick_link(config: dict[str, Any], account_id: str, event_type: str) -> str:
    """The same token as `account_link`, computed here as registration computes it, without
    an RPC round trip: for the many tests that only need a verified participant
    (tests/e2e/test_account_emails.py goes through `account_message_context`)."""
    from services.registration import account_tokens

    purpose = {event: purpose for purpose, event in account_tokens.EVENT_OF_PURPOSE.items()}[
        event_type]
    request_id = account_requests(config, account_id, event_type)[-1]
    secret = account_tokens.load_secret(config["ACCOUNTS"], config["JWT"]["keys_dir"])
    return account_tokens.make_token(secret, purpose, account_id, request_id)


_ENGINES: dict[str, Any] = {}


def _engine(url: str) -> Any:
    from sqlalchemy import create_engine

    from common.db import normalise_url

    if url not in _ENGINES:
        _ENGINES[url] = create_engine(normalise_url(url), pool_size=1)
    return _ENGINES[url]


def profile_event(event_type: str, registration_id: str, account_id: str, country: str,
                  roles: list[str], version: int = 1, status: str = "accepted",
                  sectors: list[str] | None = None, text: str = "", partnership: str = "p1",
                  **preferences: Any) -> dict[str, Any]:
    """A registration event as registration publishes it (see services/registration/domain.py)."""
    from common.events import make_event

    start = date.today() + timedelta(days=30)
    prefs = {"sectors": sectors or ["textiles"], "objectives": ["learn"],
             "activity_types": ["knowledge_sharing"], "languages": ["en"], "modes": ["physical"],
             "target_countries": [], "host_capacity": 2 if "host" in roles else None,
             "availability": [{"start": start.isoformat(),
                               "end": (start + timedelta(days=60)).isoformat()}]}
    prefs.update(preferences)
    return make_event(event_type, {
        "registration_id": registration_id, "reference": f"CX-{registration_id[:6].upper()}",
        "account_id": account_id, "partnership_id": partnership, "status": status,
        "registration_version": version, "roles": roles,
        "organisation": {"id": f"org-{registration_id}", "name": f"Org {registration_id}",
                         "type": "cluster_organisation", "country": country, "city": "City",
                         "description": text},
        "representative": {"position": "Manager"}, "motivation": text, "expertise": "",
        "preferences": prefs,
    })


def publish_event(config: dict[str, Any], source: str, event: dict[str, Any], times: int = 1) -> None:
    from kombu import Connection

    from common.events import event_exchange

    # With confirms: a quorum queue may drop what an unconfirmed channel sent just before
    # closing.
    with Connection(config["AMQP_URI"], transport_options={"confirm_publish": True}) as conn:
        producer = conn.Producer()
        for _ in range(times):
            producer.publish(event, exchange=event_exchange(source), routing_key=event["event_type"],
                             serializer="json", declare=[event_exchange(source)])
