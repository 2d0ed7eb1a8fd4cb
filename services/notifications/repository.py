"""Reading and writing notifications' tables; turns rows into plain dicts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from common.db import dialect_insert, new_id, utcnow
from services.notifications.domain import DEFAULT_EMAIL_KINDS, DEFAULT_LANGUAGE
from services.notifications.models import Notification, Preference

_N = Notification.__table__
_P = Preference.__table__


def add_notification(session: Session, *, account_id: str, event: dict[str, Any], role: str,
                     title: str, body: str, link: str | None) -> bool:
    """One inbox entry for (event, person); False when it is there already (a replay)."""
    values = {"id": new_id(), "account_id": account_id, "event_id": event["event_id"],
              "event_type": event["event_type"], "kind": event["event_type"], "role": role,
              "title": title[:300], "body": body, "link": link,
              "subject_ref": event.get("reference"), "created_at": utcnow(), "read_at": None}
    statement = dialect_insert(session)(Notification).values(**values).on_conflict_do_nothing()
    return session.execute(statement).rowcount == 1


def notification_dict(row: Any) -> dict[str, Any]:
    return {"id": row.id, "event_type": row.event_type, "kind": row.kind, "role": row.role,
            "title": row.title, "body": row.body, "link": row.link, "reference": row.subject_ref,
            "read": row.read_at is not None, "read_at": row.read_at, "created_at": row.created_at}


def list_notifications(conn: Connection, account_id: str, unread: bool | None, page: int,
                       per_page: int) -> tuple[list[dict[str, Any]], int]:
    """A person's notifications: unread first, then newest first."""
    where = [_N.c.account_id == account_id]
    if unread is True:
        where.append(_N.c.read_at.is_(None))
    elif unread is False:
        where.append(_N.c.read_at.is_not(None))
    total = conn.scalar(select(func.count()).select_from(_N).where(*where)) or 0
    rows = conn.execute(select(_N).where(*where)
                        .order_by(_N.c.read_at.is_not(None), _N.c.created_at.desc(), _N.c.id)
                        .limit(per_page).offset((page - 1) * per_page)).all()
    return [notification_dict(row) for row in rows], int(total)


def get_notification(conn: Connection | Session, account_id: str, notification_id: str) -> Any:
    return conn.execute(select(_N).where(_N.c.id == notification_id,
                                         _N.c.account_id == account_id)).first()


def mark_read(session: Session, account_id: str, notification_id: str, at: datetime) -> None:
    session.execute(update(_N).where(_N.c.id == notification_id, _N.c.account_id == account_id,
                                     _N.c.read_at.is_(None)).values(read_at=at))


def mark_all_read(session: Session, account_id: str, at: datetime) -> int:
    return session.execute(update(_N).where(_N.c.account_id == account_id, _N.c.read_at.is_(None))
                           .values(read_at=at)).rowcount


def unread_count(conn: Connection, account_id: str) -> int:
    return int(conn.scalar(select(func.count()).select_from(_N).where(
        _N.c.account_id == account_id, _N.c.read_at.is_(None))) or 0)


def preferences_of(conn: Connection | Session, account_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Each person's email kinds and language; the defaults for whoever never set them."""
    rows = conn.execute(select(_P).where(_P.c.account_id.in_(account_ids))) if account_ids else []
    found = {row.account_id: {"email_kinds": list(row.email_kinds), "language": row.language,
                              "version": row.version} for row in rows}
    for account_id in account_ids:
        found.setdefault(account_id, {"email_kinds": list(DEFAULT_EMAIL_KINDS),
                                      "language": DEFAULT_LANGUAGE, "version": 0})
    return found


def preference_row(session: Session, account_id: str) -> Preference | None:
    return session.get(Preference, account_id)
