"""Opening the daemon's database from a command, safely alongside a running daemon.

Commands read in transactions that take no write lock, and write in short
BEGIN IMMEDIATE transactions that wait their turn (busy timeout), so they
neither corrupt nor lock out the daemon. A database that cannot be used (damaged,
unreadable) is one line naming the file and what to do, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from watchd.cli.config_path import load_for_operator
from watchd.config import Config
from watchd.config.database_secret import database_password_file
from watchd.daemon.runtime_files import (
    AlreadyRunningError,
    DaemonLock,
    StateFolderError,
    daemon_pid,
)
from watchd.store.database import (
    DATABASE_FILENAME,
    Database,
    DatabaseProblem,
    database_problem,
    database_url,
)

T = TypeVar("T")


class NoDatabase(Exception):
    """There is no database yet (the daemon never ran with this state_dir)."""


@contextmanager
def open_database(config: Config) -> Iterator[Database]:
    """Yield the configured database.

    Raises NoDatabase if it was never created, and DatabaseProblem (one line)
    for any database error inside the block, or if the state folder may not be
    looked into.
    """
    path = config.state_dir / DATABASE_FILENAME
    if config.database is None and not _exists(path):
        raise NoDatabase(
            f"no database in {config.state_dir} yet: "
            "has `watchd run` been started with this config?"
        )
    url = database_url(config.database, config.state_dir)
    try:
        db = Database(url, password_file=database_password_file(config))
    except SQLAlchemyError as exc:  # a URL whose driver is not installed, say
        raise database_problem(exc, url) from exc
    try:
        yield db
    except SQLAlchemyError as exc:
        raise database_problem(exc, db.url) from exc
    finally:
        db.close()


def _exists(path: Path) -> bool:
    """Return whether ``path`` exists; raises DatabaseProblem if its folder may not be read."""
    try:
        return path.exists()
    except OSError as exc:
        raise DatabaseProblem(
            f"cannot look into the state folder {path.parent} ({exc.strerror}); run the "
            "command as root (sudo) or as a member of the watchd group"
        ) from exc


def note_daemon(config: Config, action: str) -> None:
    """Tell the user whether a daemon will act on the change now."""
    if daemon_pid(config.state_dir) is None:
        print(f"note: watchd is not running; {action} when it starts", file=sys.stderr)


def in_database(
    args: argparse.Namespace, command: str, work: Callable[[Session], T], *, write: bool
) -> tuple[Config, T] | int:
    """Run ``work`` in one session of the configured database; an exit code if it cannot."""
    config = load_for_operator(args.config)
    if config is None:
        return 2
    try:
        with open_database(config) as db, db.transaction() if write else db.reading() as session:
            return config, work(session)
    except (NoDatabase, DatabaseProblem) as exc:
        print(f"watchd {command}: {exc}", file=sys.stderr)
        return 1


def add_limit_argument(parser: argparse.ArgumentParser, default: int) -> None:
    """Add a listing's ``--limit`` (a whole number, at least 1)."""
    parser.add_argument(
        "--limit",
        type=_at_least_one,
        default=default,
        help=f"at most this many (default {default})",
    )


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is fewer than 1")
    return value


def run_listing(
    args: argparse.Namespace,
    command: str,
    query: Callable[[Session], list[dict[str, Any]]],
    render: Callable[[list[dict[str, Any]]], str],
    *,
    none_found: Callable[[Config], str | None] | None = None,
) -> int:
    """Run a read-only listing command: rows as JSON (--json) or rendered text.

    ``none_found``: when there are no rows, what is wrong, if anything (then said,
    exit 1): a thing asked for by name that is not there.
    """
    outcome = in_database(args, command, query, write=False)
    if isinstance(outcome, int):
        return outcome
    config, rows = outcome
    problem = none_found(config) if not rows and none_found is not None else None
    if problem is not None:
        print(f"watchd {command}: {problem}", file=sys.stderr)
        return 1
    print(json.dumps(rows, indent=2) if args.json else render(rows))
    if daemon_pid(config.state_dir) is None:
        print("note: watchd is not running; this is the state it left", file=sys.stderr)
    return 0


def hold_daemon_lock(state_dir: Path, command: str, then: str = "") -> DaemonLock | None:
    """Take the daemon's lock for ``command``, which must not run beside a daemon.

    Returns the held lock (the caller releases it), or None after printing why
    not: a daemon runs (``then`` is added to the advice to stop it), or the
    state folder cannot be used. A lock file created here by root is handed to
    the state folder's owner, so the daemon, running as that user, can open it.
    """
    lock = DaemonLock(state_dir)
    created = not lock.path.exists()
    try:
        lock.acquire()
    except AlreadyRunningError as exc:
        print(
            f"{command}: {exc}; stop it first (`sudo systemctl stop watchd`){then}",
            file=sys.stderr,
        )
        return None
    except StateFolderError as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return None
    if created and os.geteuid() == 0:
        try:
            owner = state_dir.stat()
            os.chown(lock.path, owner.st_uid, owner.st_gid)
        except BaseException:
            lock.release()
            raise
    return lock
