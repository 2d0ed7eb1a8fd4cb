"""Matching's creating RPCs with an idempotency key: a retry, even a concurrent one, has
one effect; keys expire."""

from __future__ import annotations

from datetime import timedelta

import eventlet
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from common.db import utcnow
from common.idempotency import REPLAYED_FIELD, IdempotencyKeyReused, prune
from services.matching.models import ContactRequest, IdempotencyKey, Message, OutboxEvent
from tests.integration.test_matching_service import accept, as_account, listed, new_id, wait_for

__all__ = ["as_account"]


@pytest.fixture
def conversation(config, as_account):
    visitor_id, visitor_account = accept(config, "PT", ["visitor"])
    host_id, host_account = accept(config, "DE", ["host"])
    visitor, host = as_account(visitor_account), as_account(host_account)
    wait_for(lambda: listed(visitor, host_id))
    return visitor, host, host_id, lambda: as_account(visitor_account)


def _count(engine, model, *where) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_a_retried_contact_request_is_created_once(conversation, db_engines):
    visitor, _host, host_id, _ = conversation
    body = {"registration_id": host_id, "message": "Visit in March?"}
    first = visitor.create_contact(body, idempotency_key="ask-1")
    again = visitor.create_contact(body, idempotency_key="ask-1")
    assert again.pop(REPLAYED_FIELD) is True and REPLAYED_FIELD not in first
    assert again == first
    assert _count(db_engines["matching"], ContactRequest) == 1
    assert _count(db_engines["matching"], OutboxEvent,
                  OutboxEvent.event_type == "contact_requested") == 1
    with pytest.raises(IdempotencyKeyReused):
        visitor.create_contact({**body, "message": "Or April?"}, idempotency_key="ask-1")


def test_concurrent_retries_of_a_message_store_it_once(conversation, db_engines):
    visitor, host, host_id, another_visitor_client = conversation
    contact = visitor.create_contact({"registration_id": host_id, "message": "Hello"})
    host.answer_contact(contact["id"], True)
    clients = [another_visitor_client() for _ in range(6)]  # a standalone proxy is not shareable

    def post(client) -> dict:
        return client.post_message(contact["id"], {"body": "Once only"}, idempotency_key="m-1")

    results = list(eventlet.GreenPool(6).imap(post, clients))
    assert len({r["id"] for r in results}) == 1
    assert sum(bool(r.get(REPLAYED_FIELD)) for r in results) == 5
    assert _count(db_engines["matching"], Message, Message.contact_id == contact["id"]) == 1
    # The same key for another conversation's message is another request.
    with pytest.raises(IdempotencyKeyReused):
        visitor.post_message(new_id(), {"body": "Once only"}, idempotency_key="m-1")


def test_a_failed_request_keeps_no_key(conversation, db_engines):
    visitor, _host, host_id, _ = conversation
    contact = visitor.create_contact({"registration_id": host_id, "message": "Hello"})
    with pytest.raises(Exception, match="conversation|accepted|open"):
        visitor.post_message(contact["id"], {"body": "Too early"}, idempotency_key="m-early")
    assert _count(db_engines["matching"], IdempotencyKey) == 0


def test_expired_keys_are_free_again_and_pruned(conversation, db_engines):
    visitor, host, host_id, _ = conversation
    contact = visitor.create_contact({"registration_id": host_id, "message": "Hello"})
    host.answer_contact(contact["id"], True)
    visitor.post_message(contact["id"], {"body": "One"}, idempotency_key="old")
    engine = db_engines["matching"]
    with engine.begin() as conn:
        conn.execute(update(IdempotencyKey.__table__).values(created_at=utcnow() - timedelta(hours=25)))
    again = visitor.post_message(contact["id"], {"body": "One"}, idempotency_key="old")
    assert REPLAYED_FIELD not in again
    assert _count(engine, Message, Message.contact_id == contact["id"]) == 2
    with engine.begin() as conn:
        conn.execute(update(IdempotencyKey.__table__).values(created_at=utcnow() - timedelta(hours=25)))
    with Session(engine) as session:
        assert prune(session, IdempotencyKey, ttl_hours=24) == 1
    assert _count(engine, IdempotencyKey) == 0
