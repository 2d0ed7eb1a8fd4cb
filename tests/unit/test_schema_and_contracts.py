"""Models match their migrations, on PostgreSQL's and SQLite's dialects; event handlers
match the declared subscriptions."""

from __future__ import annotations

import importlib

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from nameko.events import EventHandler
from sqlalchemy import create_engine

from cli.serve import SERVICE_CLASSES
from common.config import SERVICES
from common.events import SUBSCRIPTIONS, Subscription
from common.migrate import upgrade


def _metadata(service: str):
    return importlib.import_module(f"services.{service}.models").Base.metadata


def test_sqlite_migrations_match_the_models(tmp_path):
    for service in SERVICES:
        url = f"sqlite:///{tmp_path / service}.db"
        upgrade(service, url)
        engine = create_engine(url)
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), _metadata(service))
        assert diff == [], f"{service}: models and migrations differ: {diff}"


def test_postgres_migrations_match_the_models(database_urls, db_engines):
    for service in SERVICES:
        with db_engines[service].connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), _metadata(service))
        assert diff == [], f"{service}: models and migrations differ: {diff}"


def test_every_event_handler_is_a_declared_subscription():
    declared = set()
    for name, path in SERVICE_CLASSES.items():
        module, cls_name = path.split(":")
        cls = getattr(importlib.import_module(module), cls_name)
        for attr in dir(cls):
            for entrypoint in getattr(getattr(cls, attr), "nameko_entrypoints", ()):
                if isinstance(entrypoint, EventHandler):
                    assert entrypoint.requeue_on_error, f"{name}.{attr} would drop failed events"
                    declared.add(Subscription(entrypoint.source_service, entrypoint.event_type,
                                              name, attr))
    assert declared == set(SUBSCRIPTIONS)
