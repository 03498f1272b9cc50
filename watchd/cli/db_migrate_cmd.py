"""`watchd db migrate-to URL`: move this machine's SQLite state into an empty PostgreSQL.

For a facility that outgrows one machine: the configured SQLite state (jobs,
parts with their ETags, batches, receipts) is copied into the shared
database, so files already uploaded are not uploaded again and uploads under
way resume from their last part. watchd must be stopped (the lock file is
held meanwhile). The SQLite file is left as it was.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from watchd.cli.config_path import add_config_argument, given_after_action, load_for_operator
from watchd.cli.store_access import hold_daemon_lock
from watchd.config import Config
from watchd.config.database_secret import DB_PASSWORD_CREDENTIAL
from watchd.store.database import Database, database_problem, sqlite_url
from watchd.store.migrate import SchemaError
from watchd.store.move_state import MoveError, move_state

COMMAND = "watchd db migrate-to"


def register(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    helptext = (
        "copy this machine's SQLite state into an empty PostgreSQL database (watchd must be "
        "stopped), then print the config line that points watchd at it"
    )
    action = actions.add_parser("migrate-to", help=helptext, description=helptext)
    action.add_argument(
        "url", metavar="URL", help="e.g. postgresql+psycopg://watchd@db.example.com/watchd"
    )
    action.add_argument(
        "--password-file",
        type=Path,
        help="file holding the target's password (default: the config's "
        f"database_password_file, else ~/.pgpass; the credential {DB_PASSWORD_CREDENTIAL!r} "
        "is only read by the service)",
    )
    given_after_action([add_config_argument(action)])
    action.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_for_operator(args.config)
    if config is None:
        return 2
    problem = _refusal(config, args.url)
    if problem:
        print(f"{COMMAND}: {problem}", file=sys.stderr)
        return 1
    lock = hold_daemon_lock(config.state_dir, COMMAND)  # no daemon writes while it is copied
    if lock is None:
        return 1
    try:
        return _move(config, args.url, args.password_file or config.database_password_file)
    finally:
        lock.release()


def _refusal(config: Config, url: str) -> str | None:
    """Return why this move cannot be made, or None."""
    if config.database is not None:
        return (
            f"this config already uses the database {config.database}; migrate-to moves the "
            "SQLite state of a config without `database:`"
        )
    try:
        parsed = make_url(url)
    except ArgumentError:
        return f"{url!r} is not a database URL, e.g. postgresql+psycopg://watchd@db/watchd"
    if parsed.get_backend_name() != "postgresql":
        return "the target must be a PostgreSQL URL (postgresql+psycopg://...)"
    if parsed.password:
        return "the URL must not contain a password; give --password-file or use ~/.pgpass"
    if not (config.state_dir / "watchd.db").is_file():
        return f"there is no SQLite state in {config.state_dir} to move"
    return None


def _move(config: Config, url: str, password_file: Path | None) -> int:
    source = Database(sqlite_url(config.state_dir))
    target = Database(url, password_file=password_file)
    try:
        moved = move_state(source, target)
    except (MoveError, SchemaError) as exc:
        print(f"{COMMAND}: {exc}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(f"{COMMAND}: {database_problem(exc, url)}", file=sys.stderr)
        return 1
    finally:
        source.close()
        target.close()
    where = make_url(url).render_as_string(hide_password=True)
    print(f"copied {config.state_dir / 'watchd.db'} into {where} (schema {moved.revision}):")
    for table, rows in moved.rows.items():
        print(f"  {table}: {rows} rows")
    print("row counts verified. Now put this line in watchd.yaml and start watchd:")
    print(f"  database: {where}")
    if password_file is not None:
        print(f"  database_password_file: {password_file}")
    return 0
