"""Registration's hot paths on PostgreSQL: the read as a prepared statement
(common.prepared.execute_prepared) answers as the plain Core query, and still when the server forgot
it; a draft is one statement in autocommit, all or nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from common.db import normalise_url
from common.errors import NotFound
from services.registration import repository
from tests.helpers import make_account, partnership_id, unique_email


@pytest.fixture
def reader(database_urls: dict[str, str]) -> Any:
    engine = create_engine(normalise_url(database_urls["registration"]),
                           isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        yield conn
    engine.dispose()


@pytest.fixture
def registration_id(db_engines: dict[str, Any]) -> str:
    engine = db_engines["registration"]
    account_id = make_account(engine, unique_email(), ["participant"])
    with Session(engine) as session:
        org = repository.upsert_organisation(session, account_id, {
            "name": "Cluster Têxtil Norte", "type": "cluster_organisation", "country": "PT",
            "city": "Porto", "latitude": 41.15, "longitude": -8.61})
        reg = repository.insert_registration(session, {
            "status": "draft", "account_id": account_id, "organisation_id": org.id,
            "partnership_id": partnership_id(engine, "TEXCIRC"), "roles": ["visitor"],
            "motivation": "Learn.", "expertise": None,
            "representative": {"first_name": "Ana", "date_of_birth": "1986-03-14"},
            "preferences": {"sectors": ["textiles"]}})
        session.commit()
    return reg.id


def test_the_prepared_read_answers_as_the_core_query(reader, registration_id):
    core = repository._row_dict(reader.execute(
        repository._READ_ONE, {"registration_id": registration_id}).first())
    first = repository.read_registration(reader, registration_id)  # prepares it
    again = repository.read_registration(reader, registration_id)  # executes it
    assert first == core
    assert again == core
    assert {k: type(v) for k, v in again.items()} == {k: type(v) for k, v in core.items()}
    assert again["created_at"].tzinfo is not None


def test_an_unknown_registration_is_not_found(reader, registration_id):
    repository.read_registration(reader, registration_id)
    with pytest.raises(NotFound):
        repository.read_registration(reader, "00000000-0000-0000-0000-000000000000")


def test_a_statement_the_server_forgot_is_prepared_again(reader, registration_id):
    expected = repository.read_registration(reader, registration_id)
    reader.exec_driver_sql("DEALLOCATE ALL")  # what DISCARD ALL or a pooler's reset does
    assert repository.read_registration(reader, registration_id) == expected


def _draft_values(engine: Any) -> dict[str, Any]:
    return {"status": "draft", "partnership_id": partnership_id(engine, "TEXCIRC"),
            "roles": ["host"], "motivation": "Share.", "expertise": "Looms",
            "representative": {"first_name": "Rui"}, "preferences": {"languages": ["pt"]}}


def test_a_draft_in_one_statement_is_what_is_read_back(reader, db_engines):
    engine = db_engines["registration"]
    account_id = make_account(engine, unique_email(), ["participant"])
    reg, org = repository.create_draft(reader, account_id, {
        "name": "Fab Lab Braga", "type": "fab_lab", "country": "PT", "city": "Braga"},
        _draft_values(engine))
    stored = repository.read_registration(reader, reg.id)
    assert repository.registration_dict(reg, org) == stored
    assert stored["organisation"]["name"] == "Fab Lab Braga"
    assert stored["organisation"]["cluster_member"] is False
    assert stored["representative"] == {"first_name": "Rui"}


def test_a_second_active_draft_changes_nothing(reader, db_engines):
    engine = db_engines["registration"]
    account_id = make_account(engine, unique_email(), ["participant"])
    first, _ = repository.create_draft(reader, account_id, {
        "name": "Before", "type": "fab_lab", "country": "PT", "city": "Braga"},
        _draft_values(engine))
    with pytest.raises(repository.ActiveRegistrationExists) as refused:
        repository.create_draft(reader, account_id, {
            "name": "After", "type": "fab_lab", "country": "ES", "city": "Vigo"},
            _draft_values(engine))
    assert refused.value.reference == first.reference
    # the organisation's upsert went with the refused insert
    assert repository.read_registration(reader, first.id)["organisation"]["name"] == "Before"
    # and the connection is still good for the next statement
    assert repository.read_registration(reader, first.id)["id"] == first.id


def test_a_connection_that_died_is_invalidated_and_the_next_one_reads(database_urls, db_engines,
                                                                      registration_id):
    engine = create_engine(normalise_url(database_urls["registration"]),
                           isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0)
    try:
        with engine.connect() as conn:
            repository.read_registration(conn, registration_id)
            backend = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with db_engines["registration"].connect() as other:
                other.exec_driver_sql(f"SELECT pg_terminate_backend({backend})")
            with pytest.raises(DBAPIError) as failed:
                repository.read_registration(conn, registration_id)
            assert failed.value.connection_invalidated
        with engine.connect() as conn:  # the pool's only connection, replaced
            assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() != backend
            assert repository.read_registration(conn, registration_id)["id"] == registration_id
    finally:
        engine.dispose()
