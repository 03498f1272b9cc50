"""Alembic environment: runs revisions on the connection watchd hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from watchd.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies tables
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("watchd migrations run through watchd.store.migrate, with a connection")
    run_migrations(connection)


run()
