"""Matching's queries: the catalogue table, contact requests and their messages.

Reads take a plain connection (the worker's autocommit `reader`); what a worker changes goes
through its ORM session. Writes of the catalogue itself are in projection.py and exchanges.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Connection, Row
from sqlalchemy.orm import Session

from services.matching import domain, exchanges
from services.matching.models import CatalogueEntry, ContactRequest, Message

_CATALOGUE = CatalogueEntry.__table__
_CONTACTS = ContactRequest.__table__
_MESSAGES = Message.__table__


# --- the catalogue ------------------------------------------------------------------------

def own_entry(conn: Connection, account_id: str) -> Row | None:
    """The caller's own listed entry (its registration and account), if any."""
    return conn.execute(select(_CATALOGUE.c.registration_id, _CATALOGUE.c.account_id).where(
        _CATALOGUE.c.account_id == account_id, _CATALOGUE.c.listed.is_(True))).first()


def listed_owner(conn: Connection, registration_id: str) -> Row | None:
    """Who owns a listed entry (account and partnership), to decide who may see its matches."""
    return conn.execute(select(_CATALOGUE.c.account_id, _CATALOGUE.c.partnership_id).where(
        _CATALOGUE.c.registration_id == registration_id, _CATALOGUE.c.listed.is_(True))).first()


def listed_entry(conn: Connection, registration_id: str) -> Row | None:
    return conn.execute(select(_CATALOGUE).where(_CATALOGUE.c.registration_id == registration_id,
                                                 _CATALOGUE.c.listed.is_(True))).first()


def entry_row(conn: Connection, registration_id: str) -> Row | None:
    """The row, listed or not (what an index applies)."""
    return conn.execute(select(_CATALOGUE).where(
        _CATALOGUE.c.registration_id == registration_id)).first()


def entry_rows(conn: Connection, registration_ids: Iterable[str]) -> list[Row]:
    """Rows, listed or not, of these registrations."""
    ids = sorted(set(registration_ids))
    if not ids:
        return []
    return conn.execute(select(_CATALOGUE).where(_CATALOGUE.c.registration_id.in_(ids))).all()


def listed_entries(conn: Connection, registration_ids: list[str]) -> dict[str, Row]:
    if not registration_ids:
        return {}
    rows = conn.execute(select(_CATALOGUE).where(_CATALOGUE.c.registration_id.in_(registration_ids),
                                                 _CATALOGUE.c.listed.is_(True)))
    return {row.registration_id: row for row in rows}


def every_entry(conn: Connection) -> list[Row]:
    return conn.execute(select(_CATALOGUE)).all()


def changed_since(conn: Connection, change_seq: int) -> list[Row]:
    """Rows written after the change counter value `change_seq`, in counter order."""
    return conn.execute(select(_CATALOGUE).where(_CATALOGUE.c.change_seq > change_seq)
                        .order_by(_CATALOGUE.c.change_seq)).all()


def listed_alumni(conn: Connection) -> list[Row]:
    return conn.execute(select(_CATALOGUE).where(
        _CATALOGUE.c.listed.is_(True), _CATALOGUE.c.registration_id.in_(exchanges.alumni_ids()))
        .order_by(_CATALOGUE.c.registration_id)).all()


def public_names(conn: Connection, registration_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Organisation (name, country...) of listed entries, by registration id."""
    if not registration_ids:
        return {}
    rows = conn.execute(select(_CATALOGUE.c.registration_id, _CATALOGUE.c.profile).where(
        _CATALOGUE.c.registration_id.in_(set(registration_ids)), _CATALOGUE.c.listed.is_(True)))
    return {row.registration_id: (row.profile or {}).get("organisation") or {} for row in rows}


def own_entry_for_update(session: Session, account_id: str) -> CatalogueEntry | None:
    return session.scalar(select(CatalogueEntry).where(
        CatalogueEntry.account_id == account_id, CatalogueEntry.listed.is_(True))
        .with_for_update())


def get_entry(session: Session, registration_id: str) -> CatalogueEntry | None:
    return session.get(CatalogueEntry, registration_id)


# --- contact requests ----------------------------------------------------------------------

def between(account_a: str, account_b: str) -> Any:
    """Either direction of a contact between two accounts."""
    return or_(
        and_(ContactRequest.requester_account_id == account_a,
             ContactRequest.recipient_account_id == account_b),
        and_(ContactRequest.requester_account_id == account_b,
             ContactRequest.recipient_account_id == account_a))


def open_requests_from(session: Session, registration_id: str) -> int:
    return session.scalar(select(func.count()).select_from(ContactRequest).where(
        ContactRequest.requester_registration_id == registration_id,
        ContactRequest.status == domain.OPEN)) or 0


def live_contact_between(session: Session, account_a: str, account_b: str) -> bool:
    """An open or accepted request between the two, either way."""
    return bool(session.scalar(select(func.count()).select_from(ContactRequest).where(
        ContactRequest.status.in_((domain.OPEN, domain.ACCEPTED)), between(account_a, account_b))))


def connected(conn: Connection, account_a: str, account_b: str) -> bool:
    return bool(conn.scalar(select(func.count()).select_from(ContactRequest).where(
        ContactRequest.status == domain.ACCEPTED, between(account_a, account_b))))


def contact_for_update(session: Session, contact_id: str, lock: bool) -> ContactRequest | None:
    query = select(ContactRequest).where(ContactRequest.id == contact_id)
    return session.scalar(query.with_for_update() if lock else query)


def contact_row(conn: Connection, contact_id: str) -> Row | None:
    return conn.execute(select(_CONTACTS).where(_CONTACTS.c.id == contact_id)).first()


def contacts_of(conn: Connection, account_id: str, status: str | None, offset: int,
                limit: int) -> tuple[list[Row], int]:
    """One page of the contacts an account sent or received, newest first, and the total."""
    conditions = [or_(_CONTACTS.c.requester_account_id == account_id,
                      _CONTACTS.c.recipient_account_id == account_id)]
    if status:
        conditions.append(_CONTACTS.c.status == status)
    total = conn.scalar(select(func.count()).select_from(_CONTACTS).where(*conditions)) or 0
    rows = conn.execute(select(_CONTACTS).where(*conditions)
                        .order_by(_CONTACTS.c.created_at.desc(), _CONTACTS.c.id)
                        .offset(offset).limit(limit)).all()
    return rows, total


def expired_open(session: Session, now: datetime, limit: int = 500) -> list[ContactRequest]:
    return list(session.scalars(select(ContactRequest).where(
        ContactRequest.status == domain.OPEN, ContactRequest.expires_at <= now)
        .order_by(ContactRequest.expires_at).limit(limit)))


# --- messages -------------------------------------------------------------------------------

def messages_of(conn: Connection, contact_id: str, offset: int, limit: int) -> tuple[list[Row], int]:
    total = conn.scalar(select(func.count()).select_from(_MESSAGES)
                        .where(_MESSAGES.c.contact_id == contact_id)) or 0
    rows = conn.execute(select(_MESSAGES).where(_MESSAGES.c.contact_id == contact_id)
                        .order_by(_MESSAGES.c.created_at, _MESSAGES.c.id)
                        .offset(offset).limit(limit)).all()
    return rows, total


def message_row(conn: Connection, contact_id: str, message_id: str) -> Row | None:
    return conn.execute(select(_MESSAGES).where(_MESSAGES.c.id == message_id,
                                                _MESSAGES.c.contact_id == contact_id)).first()
