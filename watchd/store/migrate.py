"""Bringing a database to the schema this watchd expects, through Alembic.

The daemon upgrades at start; ``watchd db upgrade`` does it by hand. A
database stamped with a revision this watchd does not know was written by a
newer watchd: it is refused, never altered. So is a SQLite database that
fails SQLite's quick check: migrating a damaged file would spread the damage,
and a daemon working from half-readable state could send files twice.

On PostgreSQL several nodes may start at once: the upgrade runs under a
transaction-level advisory lock, so one node upgrades while the others wait,
then find the schema current (PostgreSQL's DDL is transactional: a failed
upgrade leaves nothing behind). The newer-schema check runs under that lock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from watchd.store.database import DatabaseDamaged, damaged_message, database_problem, sqlite_path
from watchd.store.models import Base

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

# The Alembic environment and revisions: migrations/ at the top of the source tree,
# installed inside the package under this name (pyproject.toml's package-dir).
MIGRATIONS_PACKAGE = "watchd.migrations"
# pg_advisory_xact_lock key held while a node upgrades a shared schema ("watchd" + 1).
SCHEMA_LOCK_KEY = 0x7761_7463_6864_0001
# The newest revision in migrations/versions (a test checks it against Alembic's head).
# A database already there is opened without importing Alembic at all: about half a
# second off every command and every start.
HEAD_REVISION = "0007"
VERSION_TABLE = "alembic_version"


class SchemaError(Exception):
    """The database cannot be used by this watchd (newer schema, failed migration)."""


def migrations_dir() -> Path:
    """Return the folder of watchd's Alembic environment and revisions.

    Raises SchemaError if they are not files in a folder (Alembic reads them
    by path), as in a watchd run from a zip archive.
    """
    location = resources.files(MIGRATIONS_PACKAGE)
    if not isinstance(location, Path):
        raise SchemaError(
            f"watchd's database revisions ({location}) are not in a folder; "
            "install watchd with pip, unzipped"
        )
    return location


def alembic_config() -> Config:
    """Return an Alembic configuration pointing at watchd's revisions."""
    from alembic.config import Config  # noqa: PLC0415 - only when a migration runs

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    return config


def head_revision() -> str:
    """Return the newest revision this watchd knows."""
    return HEAD_REVISION


def known_revisions() -> set[str]:
    """Return every revision this watchd knows (read from its Alembic scripts)."""
    from alembic.script import ScriptDirectory  # noqa: PLC0415 - only when one is checked

    return {rev.revision for rev in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def current_revision(engine: Engine) -> str | None:
    """Return the revision the database is stamped with (None for a new database)."""
    with engine.connect() as connection:
        return revision_of(connection)


def revision_of(connection: Connection) -> str | None:
    """Return the revision the database of ``connection`` is stamped with (None: new)."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(rows) > 1:
        raise SchemaError(
            f"the database {_where(connection)} is stamped with several schema revisions "
            f"({', '.join(sorted(rows))}); watchd's schema has one line of revisions"
        )
    return rows[0] if rows else None


def _where(connection: Connection) -> str:
    return connection.engine.url.render_as_string(hide_password=True)


def check_not_newer(engine: Engine) -> None:
    """Raise SchemaError if the database was written by a newer watchd."""
    with engine.connect() as connection:
        refuse_newer(connection)


def refuse_newer(connection: Connection) -> None:
    """Raise SchemaError if the database of ``connection`` was written by a newer watchd."""
    current = revision_of(connection)
    if current is None or current == HEAD_REVISION or current in known_revisions():
        return
    where = _where(connection)
    if connection.dialect.name == "sqlite":
        advice = "Upgrade watchd, or point state_dir at another folder"
    else:
        advice = "Another node runs a newer watchd: upgrade watchd on this node to the same version"
    raise SchemaError(
        f"the database {where} has schema revision {current}, which this watchd does not "
        f"know (its newest is {head_revision()}): it was written by a newer watchd. "
        f"{advice}; the database was left unchanged."
    )


def take_upgrade_lock(connection: Connection) -> None:
    """On PostgreSQL, wait for the schema lock; it is held until the transaction ends.

    Logs when another node holds it. SQLite needs none: its writers already
    take turns (BEGIN IMMEDIATE), and one daemon owns the file.
    """
    if connection.dialect.name != "postgresql":
        return
    key = {"key": SCHEMA_LOCK_KEY}
    if connection.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), key).scalar_one():
        return
    where = _where(connection)
    log.info("another node is upgrading the schema of %s; waiting for it", where)
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), key)


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Upgrade the database to ``revision`` (the newest by default); return that revision.

    Raises SchemaError for a database from a newer watchd, DatabaseDamaged for
    a damaged SQLite file, and DatabaseProblem (one line, naming the file) for
    any other database error.
    """
    try:
        with engine.begin() as connection:
            take_upgrade_lock(connection)
            refuse_newer(connection)
            before = revision_of(connection)
            refuse_damaged(connection)
            if before != HEAD_REVISION or revision != "head":
                _alembic_upgrade(connection, revision)
            # A write that changes nothing: a read-only file fails here, not in a worker later.
            connection.exec_driver_sql("UPDATE alembic_version SET version_num = version_num")
    except SQLAlchemyError as exc:
        raise database_problem(exc, engine.url) from exc
    after = head_revision() if revision == "head" else revision
    if before != after:
        log.info("database schema upgraded from %s to %s", before or "empty", after)
    return after


def _alembic_upgrade(connection: Connection, revision: str) -> None:
    """Run Alembic's upgrade to ``revision`` inside the transaction of ``connection``."""
    from alembic import command  # noqa: PLC0415 - imported only when a migration runs

    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def refuse_damaged(connection: Connection) -> None:
    """Raise DatabaseDamaged if SQLite's quick check finds a problem in a SQLite database.

    The quick check reads every page but skips the slower index cross-checks
    that ``watchd db check`` makes (``PRAGMA integrity_check``).
    """
    path = sqlite_path(connection.engine.url)
    if path is None:
        return
    found = problem_lines(connection.exec_driver_sql("PRAGMA quick_check").scalars())
    if found:
        more = f" and {len(found) - 1} more problem(s)" if len(found) > 1 else ""
        raise DatabaseDamaged(damaged_message(path, f"{found[0]}{more}"))


def problem_lines(rows: Iterable[Any]) -> list[str]:
    """Return the problems in the rows of SQLite's quick or integrity check (none: "ok").

    A row may hold several lines, and headings such as ``*** in database main ***``.
    """
    found = [str(row) for row in rows]
    if found == ["ok"]:
        return []
    return [
        line.strip()
        for row in found
        for line in row.splitlines()
        if line.strip() and not line.startswith("***")
    ]


def schema_problems(revision: str | None, tables: dict[str, set[str]]) -> list[str]:
    """Return what keeps this watchd from using a database's schema (none: nothing).

    ``tables`` are the database's tables and their columns. An older revision
    is no problem (the daemon upgrades it at start); a newer one is, and so is
    a table or column missing at this watchd's own revision.
    """
    if revision is not None and revision not in known_revisions():
        return [
            f"schema revision {revision} is not one this watchd knows: a newer watchd wrote "
            "it; upgrade watchd"
        ]
    ours = Base.metadata.tables
    if revision is None:
        if any(name in tables for name in ours):
            return ["watchd's tables are there but no schema revision is recorded"]
        return []
    if revision != head_revision():
        return []
    problems = [f"table {name} is missing" for name in ours if name not in tables]
    for name, table in ours.items():
        problems += [
            f"table {name} has no column {column.name}"
            for column in table.columns
            if name in tables and column.name not in tables[name]
        ]
    return problems
