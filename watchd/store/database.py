"""Opening the database: SQLite in WAL mode with a busy timeout and BEGIN IMMEDIATE.

Several threads write (workers committing part ETags, the watcher queueing
files, the batch closer); SQLite allows one writer at a time. Starting every
transaction with ``BEGIN IMMEDIATE`` takes the write lock up front, so two
transactions never both read and then fail to upgrade to a write ("database is
locked"); the busy timeout makes the second one wait its turn instead.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000  # how long a writer waits for the lock before failing
DATABASE_FILENAME = "watchd.db"
READ_ONLY_OPTION = "watchd_read_only"  # execution option: a transaction that only reads


def sqlite_url(state_dir: Path) -> str:
    """Return the SQLAlchemy URL of the database in ``state_dir``."""
    return f"sqlite:///{(state_dir / DATABASE_FILENAME).resolve()}"


def database_url(configured: str | None, state_dir: Path) -> str:
    """Return the URL of the state database: the configured one, else SQLite in ``state_dir``."""
    return configured or sqlite_url(state_dir)


def make_engine(url: str) -> Engine:
    """Return an engine for ``url``, configured for safe concurrent use."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
    )
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_immediate)
    return engine


def _configure_sqlite_connection(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # Let SQLAlchemy's "begin" hook issue BEGIN itself instead of pysqlite's deferred BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # FULL: a committed ETag survives a power cut, not only a killed process.
        cursor.execute("PRAGMA synchronous=FULL")
    finally:
        cursor.close()


def _begin_immediate(connection: Any) -> None:
    if connection.get_execution_options().get(READ_ONLY_OPTION):
        connection.exec_driver_sql("BEGIN")  # readers never block writers in WAL mode
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """The engine and a session factory; ``transaction()`` is the one way to write."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._readers = sessionmaker(
            self.engine.execution_options(**{READ_ONLY_OPTION: True}), expire_on_commit=False
        )

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Yield a session inside one transaction: committed on success, rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """Yield a session for reads only: it takes no write lock (status, listings)."""
        with self._readers() as session, session.begin():
            yield session

    def close(self) -> None:
        """Release all connections."""
        self.engine.dispose()
