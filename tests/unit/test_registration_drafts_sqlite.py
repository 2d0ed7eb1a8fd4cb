"""A new draft on SQLite (the embedded default): the organisation upsert and the insert in
the session's transaction, and a second active registration refused with nothing changed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from common.db import make_engine
from services.registration import repository
from services.registration.models import Account, Base, Partnership


@pytest.fixture
def session(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'registration.db'}")
    Base.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as session:
        session.add(Account(id="acc-1", email="a@example.org", full_name="A", password_hash="x",
                            roles=["participant"], failed_logins=0,
                            created_at=datetime.now(UTC)))
        repository.seed_reference(session)
        session.commit()
        yield session
    engine.dispose()


def _values(session: Session) -> dict:
    return {"status": "draft", "roles": ["visitor"], "motivation": "m", "expertise": None,
            "representative": {"first_name": "Ana"}, "preferences": {},
            "partnership_id": session.scalar(
                select(Partnership.id).where(Partnership.code == "TEXCIRC"))}


def test_a_draft_and_its_organisation_are_written_together(session):
    reg, org = repository.create_draft(session, "acc-1", {
        "name": "Cluster", "type": "cluster_organisation", "country": "PT", "city": "Porto"},
        _values(session))
    session.commit()
    stored = repository.read_registration(session.connection(), reg.id)
    assert stored["organisation"]["id"] == org.id == reg.organisation_id
    assert stored["account_id"] == "acc-1"
    assert stored["representative"] == {"first_name": "Ana"}


def test_a_second_active_draft_is_refused_and_changes_nothing(session):
    first, _ = repository.create_draft(session, "acc-1", {
        "name": "Before", "type": "cluster_organisation", "country": "PT", "city": "Porto"},
        _values(session))
    session.commit()
    with pytest.raises(repository.ActiveRegistrationExists) as refused:
        repository.create_draft(session, "acc-1", {
            "name": "After", "type": "cluster_organisation", "country": "ES", "city": "Vigo"},
            _values(session))
    assert refused.value.reference == first.reference
    assert repository.read_registration(session.connection(), first.id)["organisation"]["name"] == "Before"
