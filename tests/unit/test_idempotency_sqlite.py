"""The idempotency helper on SQLite (the local default), without a broker."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import String, func, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from common.db import TYPE_MAP, make_engine, utcnow
from common.errors import ValidationFailed
from common.idempotency import (
    REPLAYED_FIELD,
    IdempotencyKeyMixin,
    IdempotencyKeyReused,
    idempotent,
    prune,
)


class Base(DeclarativeBase):
    type_annotation_map = TYPE_MAP


class Key(IdempotencyKeyMixin, Base):
    __tablename__ = "idempotency_keys"


class Thing(Base):
    __tablename__ = "things"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)


@pytest.fixture
def session(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    Base.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as session:
        yield session
    engine.dispose()


def _create(session: Session, key: str | None, body: dict, scope: str = "acc-1") -> dict:
    def effect() -> dict:
        thing = Thing(id=f"t{session.scalar(select(func.count()).select_from(Thing))}")
        session.add(thing)
        session.flush()
        return {"id": thing.id, "name": body["name"]}

    return idempotent(session, Key, key, scope, "create_thing", body, effect)


def _things(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Thing))


def test_a_retry_replays_and_another_body_conflicts(session):
    first = _create(session, "k1", {"name": "a"})
    again = _create(session, "k1", {"name": "a"})
    assert again == {**first, REPLAYED_FIELD: True} and _things(session) == 1
    with pytest.raises(IdempotencyKeyReused):
        _create(session, "k1", {"name": "b"})
    assert REPLAYED_FIELD not in _create(session, "k1", {"name": "a"}, scope="acc-2")
    assert _things(session) == 2  # another caller's key is another key
    assert _create(session, None, {"name": "a"})["id"] and _things(session) == 3


def test_a_failed_effect_keeps_no_key(session):
    def failing() -> dict:
        session.add(Thing(id="x"))
        session.flush()
        raise ValidationFailed("no")

    with pytest.raises(ValidationFailed):
        idempotent(session, Key, "k2", "acc-1", "create_thing", {}, failing)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Key)) == 0
    assert _create(session, "k2", {"name": "a"})["id"] and _things(session) == 1


def test_an_expired_key_is_free_again_and_pruned(session):
    _create(session, "k3", {"name": "a"})
    session.execute(update(Key).values(created_at=utcnow() - timedelta(hours=25)))
    session.commit()
    assert REPLAYED_FIELD not in _create(session, "k3", {"name": "a"})
    assert _things(session) == 2
    session.execute(update(Key).values(created_at=utcnow() - timedelta(hours=25)))
    session.commit()
    assert prune(session, Key, ttl_hours=24) == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "naïve", "line\nbreak"])
def test_malformed_keys_are_refused(session, key):
    with pytest.raises(ValidationFailed):
        _create(session, key, {"name": "a"})
