"""Alembic, one history per service (services/<name>/migrations)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config

from common.db import normalise_url

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(service: str, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(ROOT / "services" / service / "migrations"))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(service: str, url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(service, url), revision)


def revision(service: str, url: str, message: str) -> None:
    command.revision(alembic_config(service, url), message=message, autogenerate=True)


def run_env(metadata: Any) -> None:
    """The body of every service's migrations/env.py."""
    from alembic import context
    from sqlalchemy import engine_from_config, pool

    def run(connection: Any) -> None:
        context.configure(connection=connection, target_metadata=metadata,
                          render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
        with context.begin_transaction():
            context.run_migrations()

    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        run(connection)
        return
    engine = engine_from_config(config.get_section(config.config_ini_section, {}),
                                prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as connection:
        run(connection)
