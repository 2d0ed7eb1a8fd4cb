"""The email queue and its worker against PostgreSQL and a real SMTP server: one email per
(event, recipient), retries with back-off, `failed` after the limit, an expired claim taken
over, one-time tokens not kept once sent."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from common.db import utcnow
from services.notifications import email_queue
from services.notifications.email_worker import deliver_batch
from services.notifications.mailer import FileTransport, SmtpTransport
from services.notifications.models import EmailMessage
from services.notifications.rendering import Rendered

SENDER = "ClusterXchange <no-reply@clusterxchange.eu>"
SETTINGS = {"batch_size": 10, "lease_seconds": 60, "max_attempts": 3, "retry_base_seconds": 30,
            "retry_cap_seconds": 3600}


@pytest.fixture
def sessions(db_engines: dict[str, Any]) -> sessionmaker:
    return sessionmaker(bind=db_engines["notifications"], expire_on_commit=False)


def _queue(sessions, to: str = "ana@example.eu", event_id: str | None = None, recipient: str = "acc-1",
           sensitive: bool = False) -> bool:
    event = {"event_id": event_id or str(uuid.uuid4()), "event_type": "registration_accepted"}
    message = Rendered("Your registration CX-1 is accepted", "accepted", "Hello Ana,\n\ntext\n",
                       "<p>Hello Ana,</p>")
    with sessions() as session:
        added = email_queue.enqueue(session, event=event, recipient=recipient, to_address=to,
                                    message=message, sender=SENDER, at=utcnow(), sensitive=sensitive)
        session.commit()
    return added


def _rows(sessions) -> list[EmailMessage]:
    with sessions() as session:
        return list(session.scalars(select(EmailMessage).order_by(EmailMessage.id)))


def _smtp(smtp_server) -> SmtpTransport:
    return SmtpTransport({"host": "127.0.0.1", "port": smtp_server.port, "security": "none",
                          "timeout_seconds": 5}, SENDER)


def test_one_email_per_event_and_recipient(sessions, smtp_server):
    event_id = str(uuid.uuid4())
    assert _queue(sessions, event_id=event_id) is True
    assert _queue(sessions, event_id=event_id) is False
    assert _queue(sessions, event_id=event_id, recipient="acc-2", to="bo@example.eu") is True
    assert deliver_batch(sessions, _smtp(smtp_server), SETTINGS) == 2
    assert deliver_batch(sessions, _smtp(smtp_server), SETTINGS) == 0
    received = sorted(m["To"] for m in smtp_server.messages())
    assert received == ["ana@example.eu", "bo@example.eu"]
    rows = _rows(sessions)
    assert [r.status for r in rows] == ["sent", "sent"]
    assert {m["Message-ID"] for m in smtp_server.messages()} == {r.message_id for r in rows}


def test_a_refused_connection_is_retried_after_a_growing_pause_then_fails(sessions, smtp_server):
    smtp_server.stop()
    _queue(sessions)
    transport = _smtp(smtp_server)
    assert deliver_batch(sessions, transport, SETTINGS) == 1
    [row] = _rows(sessions)
    assert (row.status, row.attempts) == ("pending", 1) and "connect" in row.last_error
    first_pause = row.next_attempt_at - utcnow()
    assert timedelta(seconds=25) < first_pause <= timedelta(seconds=30)
    assert deliver_batch(sessions, transport, SETTINGS) == 0  # not due yet

    for attempt in (2, 3):
        with sessions() as session:  # the pause is over
            session.get(EmailMessage, row.id).next_attempt_at = utcnow()
            session.commit()
        assert deliver_batch(sessions, transport, SETTINGS) == 1
        [row] = _rows(sessions)
        assert row.attempts == attempt
    assert row.status == "failed" and "connect" in row.last_error
    assert email_queue.backoff(2, 30, 3600) == 60 and email_queue.backoff(20, 30, 3600) == 3600


def test_an_expired_claim_is_taken_over_and_the_stale_worker_changes_nothing(sessions, smtp_server):
    _queue(sessions)
    with sessions() as session:
        [stale] = email_queue.claim_due(session, utcnow(), 10, lease_seconds=60)
    with sessions() as session:  # a live claim is nobody else's
        assert email_queue.claim_due(session, utcnow(), 10, lease_seconds=60) == []
    with sessions() as session:  # the first worker died; its lease runs out
        [fresh] = email_queue.claim_due(session, utcnow() + timedelta(seconds=61), 10, lease_seconds=60)
    assert (stale.attempt, fresh.attempt) == (1, 2) and fresh.message_id == stale.message_id
    outcomes = _smtp(smtp_server).send([fresh])
    with sessions() as session:
        email_queue.record(session, [fresh], outcomes, utcnow(), 3, 30, 3600)
    with sessions() as session:  # the first worker wakes up late and reports a failure
        from services.notifications.mailer import Outcome
        email_queue.record(session, [stale], {stale.id: Outcome(False, "late")}, utcnow(), 3, 30, 3600)
    [row] = _rows(sessions)
    assert row.status == "sent" and row.last_error is None
    assert len(smtp_server.messages()) == 1


def test_a_one_time_token_is_not_kept_once_sent(sessions, smtp_server):
    _queue(sessions, sensitive=True)
    _queue(sessions, to="bo@example.eu", recipient="acc-2")
    deliver_batch(sessions, _smtp(smtp_server), SETTINGS)
    sensitive, ordinary = _rows(sessions)
    assert sensitive.status == "sent" and sensitive.text_body == "" and sensitive.html_body == ""
    assert ordinary.text_body.startswith("Hello Ana")
    [message] = [m for m in smtp_server.messages() if m["To"] == "ana@example.eu"]
    assert "Hello Ana" in smtp_server.parts(message)["text/plain"]


def test_the_local_transport_keeps_each_message_as_an_eml_file(sessions, tmp_path):
    import email

    _queue(sessions)
    assert deliver_batch(sessions, FileTransport(tmp_path / "mail", SENDER), SETTINGS) == 1
    [path] = list((tmp_path / "mail").glob("*.eml"))
    message = email.message_from_bytes(path.read_bytes())
    assert message["To"] == "ana@example.eu" and message["Subject"].startswith("Your registration")
    assert [r.status for r in _rows(sessions)] == ["sent"]


def test_claims_of_two_workers_do_not_overlap(sessions, db_engines):
    for _ in range(6):
        _queue(sessions)
    first, second = Session(db_engines["notifications"]), Session(db_engines["notifications"])
    try:
        # The first claim's rows stay locked until it commits: the second skips them.
        from sqlalchemy import text
        locked = first.execute(text("SELECT id FROM email_messages ORDER BY id LIMIT 3 FOR UPDATE")).all()
        taken = email_queue.claim_due(second, utcnow(), 10, 60)
        assert {row.id for row in locked}.isdisjoint({item.id for item in taken})
        assert len(taken) == 3
    finally:
        first.rollback()
        first.close()
        second.close()


def test_a_non_ascii_subject_and_body_arrive_intact_over_several_connections(sessions, smtp_server):
    from email.header import decode_header, make_header

    for n in range(7):
        with sessions() as session:
            email_queue.enqueue(session, event={"event_id": str(uuid.uuid4()), "event_type": "x"},
                                recipient=f"acc-{n}", to_address=f"p{n}@example.eu",
                                message=Rendered(f"Têxtil Norte – €1,100.00 #{n}", "s",
                                                 "Olá Ana,\n\nCluster Têxtil Norte\n", "<p>Olá</p>"),
                                sender=SENDER, at=utcnow())
            session.commit()
    transport = SmtpTransport({"host": "127.0.0.1", "port": smtp_server.port, "security": "none",
                               "connections": 3}, SENDER)
    assert deliver_batch(sessions, transport, SETTINGS) == 7
    messages = sorted(smtp_server.messages(), key=lambda m: m["To"])
    assert [m["To"] for m in messages] == [f"p{n}@example.eu" for n in range(7)]
    assert str(make_header(decode_header(messages[0]["Subject"]))) == "Têxtil Norte – €1,100.00 #0"
    assert smtp_server.parts(messages[0])["text/plain"] == "Olá Ana,\n\nCluster Têxtil Norte\n"
    assert messages[0]["X-MailFrom"] == "no-reply@clusterxchange.eu"
