"""`check-config --online`, the database part: connect, and say which schema it holds."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from watchd.config.database_secret import database_password_file
from watchd.config.problems import UNKNOWN_ORIGIN, Problem
from watchd.config.schema import Config
from watchd.store.database import DATABASE_FILENAME, Database, database_problem, database_url
from watchd.store.migrate import head_revision, known_revisions, revision_of


def check_database(config: Config) -> tuple[list[Problem], str]:
    """Connect to the configured database; return (problems, one line describing it)."""
    origin = config.origin or UNKNOWN_ORIGIN
    key = ("database",) if config.database is not None else ("state_dir",)
    url = database_url(config.database, config.state_dir)
    if config.database is None and not (config.state_dir / DATABASE_FILENAME).exists():
        path = config.state_dir / DATABASE_FILENAME
        return [], f"database: SQLite {path}, not created yet (`watchd run` creates it)"
    try:
        db = Database(url, password_file=database_password_file(config))
        try:
            with db.engine.connect() as connection:
                revision = revision_of(connection)
                kind = "PostgreSQL" if connection.dialect.name == "postgresql" else "SQLite"
                where = db.engine.url.render_as_string(hide_password=True)
        finally:
            db.close()
    except SQLAlchemyError as exc:
        return [origin.problem(key, str(database_problem(exc, url)))], ""
    line = f"database: {kind} {where}, schema revision {revision or 'none'}"
    if revision is None:
        return [], f"{line} (empty: `watchd run` creates the schema)"
    if revision not in known_revisions():
        message = (
            f"{kind} database {where} has schema revision {revision}, newer than this watchd's "
            f"{head_revision()}: upgrade watchd"
        )
        return [origin.problem(key, message)], line
    note = "current" if revision == head_revision() else "older: upgraded when watchd starts"
    return [], f"{line} ({note})"
