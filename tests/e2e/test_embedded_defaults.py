"""`make run`'s embedded defaults: SQLite files and a local document directory, no S3."""

from __future__ import annotations

import email
import time
from typing import Any

import pytest
from sqlalchemy import create_engine, update
from sqlalchemy.orm import Session

from common.config import SERVICES
from common.migrate import upgrade
from tests.fixtures import Api, _seed_reference, free_port
from tests.helpers import (
    MINIMAL_PDF,
    make_account,
    partnership_id,
    registration_payload,
    sign_up,
    unique_email,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def embedded(container_factory: Any, rabbit_config: dict, keys_dir: Any, tmp_path: Any) -> Api:
    from common.config import build_config
    from gateway.service import GatewayService
    from services.matching.service import MatchingService
    from services.notifications.service import NotificationsService
    from services.registration.service import RegistrationService

    cfg = build_config()
    cfg.update(rabbit_config)
    cfg.pop("LOGGING", None)
    cfg["DATABASE_URLS"] = {name: f"sqlite:///{tmp_path / name}.db" for name in SERVICES}
    for name, url in cfg["DATABASE_URLS"].items():
        upgrade(name, url)
    _seed_reference(cfg["DATABASE_URLS"]["registration"])
    cfg["STORAGE"] = {**cfg["STORAGE"], "endpoint": "", "local_dir": str(tmp_path / "documents")}
    cfg["JWT"] = {**cfg["JWT"], "keys_dir": str(keys_dir)}
    cfg["MATCHING"] = {**cfg["MATCHING"], "index_refresh_seconds": 0.1}
    cfg["WEB_SERVER_ADDRESS"] = f"127.0.0.1:{free_port()}"
    # The local email transport: messages kept as .eml files, nothing sent.
    cfg["NOTIFICATIONS"] = {**cfg["NOTIFICATIONS"], "email_transport": "file", "poll_seconds": 0.2,
                            "mail_dir": str(tmp_path / "mail")}
    for service in (RegistrationService, MatchingService, NotificationsService, GatewayService):
        container_factory(service, cfg).start()
    with Api(f"http://{cfg['WEB_SERVER_ADDRESS']}", cfg) as api:
        api.urls = cfg["DATABASE_URLS"]
        yield api


def test_the_journey_runs_on_sqlite_and_local_documents(embedded, tmp_path):
    from services.registration.models import Registration

    api = embedded
    engine = create_engine(api.urls["registration"])
    greenmob = partnership_id(engine, "GREENMOB")
    contact_email = unique_email("contact")
    make_account(engine, contact_email, ["partnership_contact"], "GREENMOB")
    visitor_ids = []
    for country, roles in (("PT", ["visitor"]), ("DE", ["host"])):
        _e, headers = sign_up(api)
        reg = api.post("/api/v1/registrations", headers=headers,
                       json=registration_payload(greenmob, country=country, roles=roles)).json()
        cv = api.put(f"/api/v1/registrations/{reg['id']}/cv", data=MINIMAL_PDF,
                     headers={**headers, "Content-Type": "application/pdf"})
        assert cv.status_code == 200, cv.text
        assert api.get(f"/api/v1/registrations/{reg['id']}/cv", headers=headers).content == MINIMAL_PDF
        submitted = api.post(f"/api/v1/registrations/{reg['id']}/submit", headers=headers)
        assert submitted.status_code == 200, submitted.text
        visitor_ids.append((reg["id"], headers))
    assert any((tmp_path / "documents").rglob("*"))
    # Accepting through the API is covered elsewhere; here the contact point's decision is
    # simulated and announced by updating the registration (which emits an event).
    with Session(engine) as session:
        session.execute(update(Registration).values(status="accepted"))
        session.commit()
    for registration_id, headers in visitor_ids:
        current = api.get(f"/api/v1/registrations/{registration_id}", headers=headers).json()
        edited = api.patch(f"/api/v1/registrations/{registration_id}", headers=headers,
                           json={"expertise": "Recycling", "version": current["version"]})
        assert edited.status_code == 200, edited.text
    visitor_reg, visitor_headers = visitor_ids[0]
    deadline = time.monotonic() + 5
    matches: list = []
    while not matches and time.monotonic() < deadline:
        response = api.get(f"/api/v1/matches?registration_id={visitor_reg}", headers=visitor_headers)
        matches = response.json() if response.status_code == 200 else []
        time.sleep(0.1)
    assert [m["registration_id"] for m in matches] == [visitor_ids[1][0]]
    # The contact point heard of both submissions, and each participant got its verification
    # link at sign-up: four .eml files in the mail directory.
    deadline = time.monotonic() + 20
    while len(list((tmp_path / "mail").glob("*.eml"))) < 4 and time.monotonic() < deadline:
        time.sleep(0.1)
    kept = [email.message_from_bytes(path.read_bytes()) for path in (tmp_path / "mail").glob("*.eml")]
    to_contact = [m for m in kept if m["To"] == contact_email]
    assert len(to_contact) == 2 and len(kept) == 4
    assert all("waits for your assessment" in m["Subject"] for m in to_contact)
    assert all("/account/verify?token=" in m.get_payload(0).get_payload(decode=True).decode()
               for m in kept if m["To"] != contact_email)
    engine.dispose()
