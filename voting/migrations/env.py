"""Alembic environment: run from `voting.database.upgrade` with a live connection, or from the
command line with `alembic -x url=… upgrade head` (see docs/migrations.md)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from voting.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise RuntimeError("No database to migrate: pass -x url=... or set sqlalchemy.url")
    engine = create_engine(url)
    with engine.connect() as fresh:
        _run(fresh)
        fresh.commit()


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
