"""Writing the catalogue read model: events applied in version order, every write stamped
with the commit-ordered change counter the in-memory indexes follow."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from common.db import dialect_insert, is_postgres, utcnow
from services.matching import domain
from services.matching.models import CatalogueChanges, CatalogueEntry

# Envelope fields of an event, not part of the profile kept in the catalogue.
_ENVELOPE = ("event_id", "event_type", "version", "occurred_at", "actor_id", "comment", "contact")
_CATALOGUE = CatalogueEntry.__table__
_COUNTER = CatalogueChanges.__table__


def _bump(session: Session, count: int = 1) -> Any:
    return (dialect_insert(session)(_COUNTER).values(id=1, value=count)
            .on_conflict_do_update(index_elements=[_COUNTER.c.id],
                                   set_={"value": _COUNTER.c.value + count})
            .returning(_COUNTER.c.value))


def next_change_seq(session: Session) -> int:
    """Bump the change counter in the caller's transaction. Its row lock, held until commit,
    makes every other catalogue writer wait: numbers are handed out in commit order."""
    return int(session.execute(_bump(session)).scalar_one())


def reserve_change_seqs(session: Session, count: int) -> range:
    """Bump the counter by `count` at once (one lock, held until commit, for a batch of
    writes); the values reserved, in order."""
    top = int(session.execute(_bump(session, count)).scalar_one())
    return range(top - count + 1, top + 1)


def current_change_seq(session: Session) -> int:
    return int(session.scalar(select(_COUNTER.c.value).where(_COUNTER.c.id == 1)) or 0)


def store_profile(session: Session, payload: dict[str, Any]) -> Any | None:
    """Apply a registration event (or a replayed profile) when it is newer than the row:
    one conditional upsert, so two deliveries racing cannot let the older one win. Returns
    the row written, or None when the event was older than what the row holds."""
    values = _row_values(payload)
    # The counter's row lock is held until commit and orders every catalogue writer: on
    # PostgreSQL it is bumped inside the upsert (a data-modifying CTE, evaluated before the
    # row is written), one round trip less while holding it.
    bump = _bump(session).cte("next_change_seq") if is_postgres(session) else None
    values["change_seq"] = (select(bump.c.value).scalar_subquery() if bump is not None
                            else next_change_seq(session))
    statement = _upsert(session, [values])
    if bump is not None:
        statement = statement.add_cte(bump)
    return session.execute(statement).first()


def store_profiles(session: Session, payloads: list[dict[str, Any]]) -> list[Any]:
    """`store_profile` for many events of distinct registrations in one statement, under one
    bump of the change counter (numbered in the order given). Returns the rows written."""
    if not payloads:
        return []
    rows = [_row_values(payload) for payload in payloads]
    for values, seq in zip(rows, reserve_change_seqs(session, len(rows)), strict=True):
        values["change_seq"] = seq
    return session.execute(_upsert(session, rows)).all()


def _row_values(payload: dict[str, Any]) -> dict[str, Any]:
    listed = domain.is_listed(payload)
    profile = {k: v for k, v in payload.items() if k not in _ENVELOPE}
    return {
        "registration_id": payload["registration_id"],
        "account_id": payload["account_id"],
        "partnership_id": payload["partnership_id"],
        "registration_version": int(payload.get("registration_version") or 0),
        "listed": listed,
        # An unlisted row only remembers the version (so a late, older event cannot relist
        # it); nobody's profile is kept for registrations not in the catalogue.
        "profile": profile if listed else {},
        "changed_at": utcnow(),
        # A new row hosts what it declared; exchanges (services/matching/exchanges.py) lower it.
        "has_visited": False,
        "host_capacity": int((profile.get("preferences") or {}).get("host_capacity") or 1),
    }


def _upsert(session: Session, rows: list[dict[str, Any]]) -> Any:
    """Insert these rows, or replace those whose stored version is older (visits and
    capacity of an existing row stay: they follow exchanges, not events)."""
    statement = dialect_insert(session)(_CATALOGUE).values(rows)
    kept = ("has_visited", "host_capacity", "registration_id")
    return statement.on_conflict_do_update(
        index_elements=[_CATALOGUE.c.registration_id],
        set_={name: statement.excluded[name] for name in rows[0] if name not in kept},
        where=_CATALOGUE.c.registration_version < statement.excluded.registration_version,
    ).returning(*_CATALOGUE.c)


def touch(session: Session, registration_id: str, **values: Any) -> None:
    """Change a catalogue row's own columns (capacity, visits) so that indexes see it."""
    session.execute(update(_CATALOGUE).where(_CATALOGUE.c.registration_id == registration_id)
                    .values(**values, changed_at=utcnow(), change_seq=next_change_seq(session)))


def unlist_unseen(session: Session, seen: set[str], started_at_seq: int, batch: int = 500) -> int:
    """After a rebuild: unlist the entries registration no longer reports as accepted,
    except those written since the rebuild started (an acceptance that arrived meanwhile)."""
    candidates = [registration_id for registration_id in session.scalars(
        select(_CATALOGUE.c.registration_id).where(
            _CATALOGUE.c.listed.is_(True), _CATALOGUE.c.change_seq <= started_at_seq))
        if registration_id not in seen]
    session.commit()
    removed = 0
    for chunk in _chunks(candidates, batch):
        removed += session.execute(
            update(_CATALOGUE)
            .where(_CATALOGUE.c.registration_id.in_(chunk), _CATALOGUE.c.listed.is_(True),
                   _CATALOGUE.c.change_seq <= started_at_seq)
            .values(listed=False, profile={}, changed_at=utcnow(),
                    change_seq=next_change_seq(session))).rowcount
        session.commit()
    return removed


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
