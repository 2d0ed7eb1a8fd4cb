"""The CLI writes through registration's own service functions: the demo set and staff
accounts obey the same rules as the API, and the demo's events leave through the outbox."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cli.demo import DEMO_PASSWORD, PARTICIPANTS, seed_demo
from cli.local import LocalService
from common.errors import Conflict, NotAllowed, ValidationFailed
from services.registration.models import Account, OutboxEvent
from services.registration.service import RegistrationService
from tests.helpers import unique_email


@pytest.fixture
def registration(config: dict[str, Any]):
    with LocalService(RegistrationService, config) as local:
        yield local


@pytest.fixture
def admin_token(tokens: Any) -> str:
    return tokens.issue("system:test", ["admin"], None, None)[0]


def outbox(engine: Any) -> Counter:
    with Session(engine) as session:
        return Counter(session.scalars(select(OutboxEvent.event_type)))


def test_the_demo_set_is_made_through_the_service_and_emits_its_events(
        registration, admin_token, db_engines, config, container_factory):
    lines = list(seed_demo(registration, admin_token))
    assert "Demo logins" in "\n".join(lines)
    statuses = Counter(row[10] for row in PARTICIPANTS)
    events = outbox(db_engines["registration"])
    assert events["registration_submitted"] == len(PARTICIPANTS) - statuses["draft"]
    assert events["registration_accepted"] == statuses["accepted"]
    assert events["registration_changes_requested"] == statuses["changes_requested"]
    # every demo login works, with the password the table prints
    table = [line.split() for line in lines if "@demo.clusterxchange.eu" in line]
    assert len(table) == 2 + len(registration.call("list_partnerships")) + len(PARTICIPANTS)
    for row in table[:3] + table[-2:]:
        assert registration.call("create_token", {"email": row[1], "password": DEMO_PASSWORD})

    # Again: nothing new, and the table once more.
    with Session(db_engines["registration"]) as session:
        accounts = session.scalar(select(func.count()).select_from(Account))
    again = list(seed_demo(registration, admin_token))
    assert again[0] == "demo data already present"
    with Session(db_engines["registration"]) as session:
        assert session.scalar(select(func.count()).select_from(Account)) == accounts
    assert outbox(db_engines["registration"]) == events

    # The service, once started, publishes what the CLI recorded.
    container_factory(RegistrationService, config).start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with Session(db_engines["registration"]) as session:
            unsent = session.scalar(select(func.count()).select_from(OutboxEvent)
                                    .where(OutboxEvent.sent_at.is_(None)))
        if unsent == 0:
            break
        time.sleep(0.2)
    assert unsent == 0


def test_staff_accounts_follow_registrations_rules(registration, admin_token, tokens):
    email = unique_email("contact")
    payload = {"email": email, "password": "a-long-password-1", "full_name": "Contact",
               "roles": ["partnership_contact"], "partnership_code": "GREENMOB"}
    participant = tokens.issue("someone", ["participant"], None, None)[0]
    with pytest.raises(NotAllowed):
        registration.call("create_staff_account", payload, token=participant)
    account = registration.call("create_staff_account", payload, token=admin_token)
    assert account["roles"] == ["partnership_contact"] and account["partnership_id"]
    with pytest.raises(Conflict):
        registration.call("create_staff_account", payload, token=admin_token)
    with pytest.raises(ValidationFailed) as no_partnership:
        registration.call("create_staff_account", {**payload, "email": unique_email(),
                                                   "partnership_code": None}, token=admin_token)
    assert "partnership_code" in no_partnership.value.errors
    with pytest.raises(ValidationFailed):
        registration.call("create_staff_account", {**payload, "email": unique_email(),
                                                   "partnership_code": "NOPE"}, token=admin_token)
    with pytest.raises(ValidationFailed) as short:
        registration.call("create_staff_account", {**payload, "email": unique_email(),
                                                   "password": "short"}, token=admin_token)
    assert "password" in short.value.errors
    token = registration.call("create_token", {"email": email, "password": "a-long-password-1"})
    assert tokens.verify(token["access_token"]).partnership_id == account["partnership_id"]
