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


def _bump(session: Session) -> Any:
    return (dialect_insert(session)(_COUNTER).values(id=1, value=1)
            .on_conflict_do_update(index_elements=[_COUNTER.c.id],
                                   set_={"value": _COUNTER.c.value + 1})
            .returning(_COUNTER.c.value))


def next_change_seq(session: Session) -> int:
    """Bump the change counter in the caller's transaction. Its row lock, held until commit,
    makes every other catalogue writer wait: numbers are handed out in commit order."""
    return int(session.execute(_bump(session)).scalar_one())


def current_change_seq(session: Session) -> int:
    return int(session.scalar(select(_COUNTER.c.value).where(_COUNTER.c.id == 1)) or 0)


def store_profile(session: Session, payload: dict[str, Any]) -> Any | None:
    """Apply a registration event (or a replayed profile) when it is newer than the row:
    one conditional upsert, so two deliveries racing cannot let the older one win. Returns
    the row written, or None when the event was older than what the row holds."""
    listed = domain.is_listed(payload)
    profile = {k: v for k, v in payload.items() if k not in _ENVELOPE}
    values = {
        "registration_id": payload["registration_id"],
        "account_id": payload["account_id"],
        "partnership_id": payload["partnership_id"],
        "registration_version": int(payload.get("registration_version") or 0),
        "listed": listed,
        # An unlisted row only remembers the version (so a late, older event cannot relist
        # it); nobody's profile is kept for registrations not in the catalogue.
        "profile": profile if listed else {},
        "changed_at": utcnow(),
    }
    # The counter's row lock is held until commit and orders every catalogue writer: on
    # PostgreSQL it is bumped inside the upsert (a data-modifying CTE, evaluated before the
    # row is written), one round trip less while holding it.
    bump = _bump(session).cte("next_change_seq") if is_postgres(session) else None
    values["change_seq"] = (select(bump.c.value).scalar_subquery() if bump is not None
                            else next_change_seq(session))
    # A new row hosts what it declared; exchanges (services/matching/exchanges.py) lower it.
    declared = int((profile.get("preferences") or {}).get("host_capacity") or 1)
    statement = dialect_insert(session)(_CATALOGUE).values(**values, has_visited=False,
                                                           host_capacity=declared)
    statement = statement.on_conflict_do_update(
        index_elements=[_CATALOGUE.c.registration_id],
        set_={name: statement.excluded[name] for name in values if name != "registration_id"},
        where=_CATALOGUE.c.registration_version < statement.excluded.registration_version,
    ).returning(*_CATALOGUE.c)
    if bump is not None:
        statement = statement.add_cte(bump)
    return session.execute(statement).first()


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
