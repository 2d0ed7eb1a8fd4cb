"""The catalogue learns about exchanges: a visitor with an exchange is not proposed as a
visitor again, and a host's open capacity is what it declared minus what it hosts now.

Built from agreements' events only (matching never reads agreements' tables), each applied
when its `exchange_version` is newer than what the link holds."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.db import dialect_insert
from services.matching import projection
from services.matching.models import CatalogueEntry, ExchangeLink

CANCELLED = "cancelled"
# The stay took place: agreements' `exchange_completed` (and anything after it).
COMPLETED = "completed"
# Exchanges a host is preparing or hosting now (agreements' states before `completed`).
HOSTING = ("proposed", "draft", "rejected", "submitted", "validated", "signed", "ready",
           "in_progress")
_LINKS = ExchangeLink.__table__


def store_link(session: Session, payload: dict[str, Any]) -> bool:
    """Apply an exchange event to its link; False when it is older than the link."""
    values = {"exchange_id": payload["exchange_id"],
              "exchange_version": int(payload.get("exchange_version") or 0),
              "status": payload["status"],
              "visitor_registration_id": payload["visitor_registration_id"],
              "host_registration_id": payload["host_registration_id"]}
    statement = dialect_insert(session)(_LINKS).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[_LINKS.c.exchange_id],
        set_={"exchange_version": statement.excluded.exchange_version,
              "status": statement.excluded.status},
        where=_LINKS.c.exchange_version < statement.excluded.exchange_version)
    return session.execute(statement).rowcount == 1


def linked(session: Session, registration_ids: set[str]) -> set[str]:
    """Those of `registration_ids` that visit or host in some exchange."""
    if not registration_ids:
        return set()
    ids = sorted(registration_ids)
    rows = session.execute(select(_LINKS.c.visitor_registration_id, _LINKS.c.host_registration_id)
                           .where(_LINKS.c.visitor_registration_id.in_(ids)
                                  | _LINKS.c.host_registration_id.in_(ids)))
    return {rid for row in rows for rid in row if rid in registration_ids}


def declared_capacity(profile: dict[str, Any]) -> int:
    return int((profile.get("preferences") or {}).get("host_capacity") or 1)


def refresh(session: Session, registration_ids: set[str]) -> list[str]:
    """Recompute visits and open capacity of these catalogue rows; returns the ids changed."""
    changed = []
    for entry in session.scalars(select(CatalogueEntry).where(
            CatalogueEntry.registration_id.in_(sorted(registration_ids)))):
        visited = bool(session.scalar(select(func.count()).select_from(_LINKS).where(
            _LINKS.c.visitor_registration_id == entry.registration_id,
            _LINKS.c.status != CANCELLED)))
        hosting = session.scalar(select(func.count()).select_from(_LINKS).where(
            _LINKS.c.host_registration_id == entry.registration_id,
            _LINKS.c.status.in_(HOSTING))) or 0
        capacity = declared_capacity(entry.profile or {}) - hosting
        if entry.has_visited != visited or entry.host_capacity != capacity:
            projection.touch(session, entry.registration_id, has_visited=visited,
                             host_capacity=capacity)
            changed.append(entry.registration_id)
    return changed


def alumni_ids() -> Any:
    """Registrations that visited or hosted in a completed exchange (a query)."""
    visitors = select(_LINKS.c.visitor_registration_id.label("registration_id")).where(
        _LINKS.c.status == COMPLETED)
    hosts = select(_LINKS.c.host_registration_id.label("registration_id")).where(
        _LINKS.c.status == COMPLETED)
    return visitors.union(hosts)
