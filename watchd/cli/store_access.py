"""Opening the daemon's database from a command, safely alongside a running daemon.

Commands read in transactions that take no write lock, and write in short
BEGIN IMMEDIATE transactions that wait their turn (busy timeout), so they
neither corrupt nor lock out the daemon.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from watchd.config import Config
from watchd.daemon.app import database_url
from watchd.daemon.runtime_files import daemon_pid
from watchd.store.database import DATABASE_FILENAME, Database


class NoDatabase(Exception):
    """There is no database yet (the daemon never ran with this state_dir)."""


@contextmanager
def open_database(config: Config) -> Iterator[Database]:
    """Yield the configured database; raises NoDatabase if it was never created."""
    if config.database is None and not (config.state_dir / DATABASE_FILENAME).exists():
        raise NoDatabase(
            f"no database in {config.state_dir} yet: "
            "has `watchd run` been started with this config?"
        )
    db = Database(database_url(config))
    try:
        yield db
    finally:
        db.close()


def note_daemon(config: Config, action: str) -> None:
    """Tell the user whether a daemon will act on the change now."""
    if daemon_pid(config.state_dir) is None:
        print(f"note: watchd is not running; {action} when it starts", file=sys.stderr)
