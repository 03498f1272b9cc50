"""Bringing a database to the schema this watchd expects, through Alembic.

The daemon upgrades at start; ``watchd db upgrade`` does it by hand. A
database stamped with a revision this watchd does not know was written by a
newer watchd: it is refused, never altered.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class SchemaError(Exception):
    """The database cannot be used by this watchd (newer schema, failed migration)."""


def alembic_config() -> Config:
    """Return an Alembic configuration pointing at watchd's revisions."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    """Return the newest revision this watchd knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise SchemaError("watchd ships no database revisions")
    return head


def current_revision(engine: Engine) -> str | None:
    """Return the revision the database is stamped with (None for a new database)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def check_not_newer(engine: Engine) -> None:
    """Raise SchemaError if the database was written by a newer watchd."""
    current = current_revision(engine)
    if current is None:
        return
    scripts = ScriptDirectory.from_config(alembic_config())
    known = {rev.revision for rev in scripts.walk_revisions()}
    if current not in known:
        raise SchemaError(
            f"the database {engine.url.render_as_string(hide_password=True)} has schema "
            f"revision {current}, which this watchd does not know: it was written by a newer "
            "watchd. Upgrade watchd, or point state_dir at another folder; the database "
            "was left unchanged."
        )


def upgrade(engine: Engine) -> str:
    """Upgrade the database to the newest revision; return that revision."""
    check_not_newer(engine)
    before = current_revision(engine)
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    after = head_revision()
    if before != after:
        log.info("database schema upgraded from %s to %s", before or "empty", after)
    return after
