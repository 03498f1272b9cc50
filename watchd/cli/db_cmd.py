"""`watchd db`: the state database by hand: upgrade, current, check, recover.

The daemon upgrades the schema itself at start; `upgrade` is for upgrades done
ahead of a restart, `current` shows the schema revision. `check` runs SQLite's
integrity check and looks at the schema; `recover` moves a damaged database
aside and starts a new one with what can still be read from it.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from watchd.cli import db_migrate_cmd
from watchd.cli.config_path import add_config_argument, given_after_action, load_for_operator
from watchd.cli.store_access import hold_daemon_lock
from watchd.config.database_secret import database_password_file
from watchd.daemon.runtime_files import state_folder_error
from watchd.store.database import (
    Database,
    DatabaseProblem,
    database_problem,
    database_url,
    make_state_dir,
    sqlite_path,
)
from watchd.store.integrity import (
    SALVAGED_TABLES,
    Examination,
    Recovered,
    RecoveryError,
    examine,
    recover,
)
from watchd.store.migrate import (
    SchemaError,
    current_revision,
    head_revision,
    schema_problems,
    upgrade,
)

PROBLEMS_SHOWN = 20  # `db check` lists this many of SQLite's findings, then counts the rest
RECOVER_ADVICE = (
    "stop watchd, then run `watchd db recover` (it moves the damaged file aside and starts "
    "a new one), or restore it from a backup"
)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "db", help="the state database: check, recover, upgrade, current, migrate-to"
    )
    add_config_argument(parser)  # (also before the action: `watchd db --config X check`)
    actions = parser.add_subparsers(dest="db_action", metavar="ACTION", required=True)
    for name, helptext, func in (
        ("upgrade", "upgrade the database to this watchd's schema", run),
        ("current", "show the database's schema revision and this watchd's", run),
        (
            "check",
            "check the database for damage (SQLite's integrity check) and its schema; "
            "exit 0 when sound, 1 when not",
            run_check,
        ),
        (
            "recover",
            "move a damaged database aside and start a new one with what can still be read "
            "from it (watchd must be stopped); a sound database is left alone",
            run_recover,
        ),
    ):
        action = actions.add_parser(name, help=helptext, description=helptext)
        given_after_action([add_config_argument(action)])
        action.set_defaults(func=func)
    db_migrate_cmd.register(actions)


def run(args: argparse.Namespace) -> int:
    config = load_for_operator(args.config)
    if config is None:
        return 2
    command = f"watchd db {args.db_action}"
    if config.database is None:
        try:
            make_state_dir(config.state_dir)  # as `watchd run` makes it
        except OSError as exc:
            print(f"{command}: {state_folder_error(config.state_dir, exc)}", file=sys.stderr)
            return 1
    url = database_url(config.database, config.state_dir)
    try:
        db = Database(url, password_file=database_password_file(config))
    except SQLAlchemyError as exc:
        print(f"{command}: {database_problem(exc, url)}", file=sys.stderr)
        return 1
    try:
        if args.db_action == "upgrade":
            revision = upgrade(db.engine)
            print(f"database is at schema revision {revision} (the newest this watchd knows)")
        else:
            current = current_revision(db.engine) or "none (empty database)"
            print(f"database revision: {current}\nthis watchd's newest: {head_revision()}")
    except SchemaError as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(f"{command}: {database_problem(exc, db.url)}", file=sys.stderr)
        return 1
    finally:
        db.close()
    return 0


# --- check --------------------------------------------------------------------------------


def run_check(args: argparse.Namespace) -> int:
    """Print ``ok`` or each problem; return 0 when sound, 1 when not."""
    config = load_for_operator(args.config)
    if config is None:
        return 2
    url = database_url(config.database, config.state_dir)
    path = sqlite_path(url)
    if path is None:
        return _check_other(url, database_password_file(config))
    try:
        if not path.exists():  # raises PermissionError, not False
            print(f"no database at {path} yet: `watchd run` creates it")
            return 0
        found = examine(path)
        schema = schema_problems(found.revision, found.tables) if found.sound else []
    except (DatabaseProblem, OSError) as exc:
        print(f"watchd db check: {_one_line(exc, url)}", file=sys.stderr)
        return 1
    if not found.sound:
        _print_problems("damaged", found.problems)
        print(
            f"watchd db check: the state database {path} is damaged "
            f"({_count(found.problems)} found by SQLite's integrity check, listed above); "
            f"{RECOVER_ADVICE}",
            file=sys.stderr,
        )
        return 1
    if schema:
        _print_problems("schema", schema)
        print(
            f"watchd db check: the state database {path} is intact, but this watchd cannot "
            "use its schema (see above)",
            file=sys.stderr,
        )
        return 1
    print(f"ok: {path} passed SQLite's integrity check; {_schema_note(found)}")
    return 0


def _check_other(url: str, password_file: Path | None) -> int:
    try:
        db = Database(url, password_file=password_file)
        try:
            with db.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        finally:
            db.close()
    except SQLAlchemyError as exc:
        print(f"watchd db check: {database_problem(exc, url)}", file=sys.stderr)
        return 1
    where = db.engine.url.render_as_string(hide_password=True)
    print(
        f"connected to {where}; `watchd db check` only checks SQLite databases, so use the "
        "database's own tools to check this one"
    )
    return 0


def _print_problems(kind: str, problems: list[str]) -> None:
    for problem in problems[:PROBLEMS_SHOWN]:
        print(f"{kind}: {problem}")
    if len(problems) > PROBLEMS_SHOWN:
        print(f"{kind}: ... and {len(problems) - PROBLEMS_SHOWN} more")


def _count(problems: list[str]) -> str:
    return "1 problem" if len(problems) == 1 else f"{len(problems)} problems"


def _schema_note(found: Examination) -> str:
    head = head_revision()
    if found.revision is None:
        return "no tables yet (watchd creates them when it starts)"
    if found.revision == head:
        return f"schema revision {head} (the newest this watchd knows)"
    return (
        f"schema revision {found.revision} (watchd upgrades it to {head} when it starts, "
        "or run `watchd db upgrade`)"
    )


def _one_line(exc: Exception, url: str) -> str:
    if isinstance(exc, OSError):
        return f"cannot look at the state database ({exc.strerror}: {exc.filename})"
    return str(database_problem(exc, url))


# --- recover ------------------------------------------------------------------------------


def run_recover(args: argparse.Namespace) -> int:
    """Recover a damaged SQLite database while holding the daemon's lock; return the exit code."""
    config = load_for_operator(args.config)
    if config is None:
        return 2
    url = database_url(config.database, config.state_dir)
    path = sqlite_path(url)
    if path is None:
        print(
            "watchd db recover: only a SQLite database can be recovered; use the database's "
            "own backup and repair tools",
            file=sys.stderr,
        )
        return 1
    try:
        if not path.exists():  # raises PermissionError, not False
            print(f"no database at {path}: nothing to recover (`watchd run` creates one)")
            return 0
    except OSError as exc:
        print(f"watchd db recover: {_one_line(exc, url)}", file=sys.stderr)
        return 1
    # No daemon starts while the database is swapped.
    lock = hold_daemon_lock(
        config.state_dir, "watchd db recover", then=", then run `watchd db recover` again"
    )
    if lock is None:
        return 1
    try:
        return _recover(path, url)
    finally:
        lock.release()


def _recover(path: Path, url: str) -> int:
    try:
        found = examine(path)
    except (DatabaseProblem, OSError) as exc:
        print(f"watchd db recover: {_one_line(exc, url)}", file=sys.stderr)
        return 1
    if found.sound:
        print(
            f"{path} passed SQLite's integrity check: nothing to recover, nothing was changed "
            "(`watchd db check` also looks at its schema)"
        )
        return 0
    try:
        done = recover(path, datetime.now())
    except RecoveryError as exc:
        print(f"watchd db recover: {exc}", file=sys.stderr)
        return 1
    print(_report(path, done))
    return 0


def _report(path: Path, done: Recovered) -> str:
    salvaged = done.salvaged
    copied = salvaged.copied
    lines = [
        f"moved the damaged database aside to {done.moved_to}",
        f"started a new database {path} at schema revision {done.revision}",
    ]
    if any(copied.values()):
        lines.append(
            f"salvaged {copied['jobs']} job(s) with their state, {copied['batches']} "
            f"batch(es) and {copied['parts']} part(s) from the damaged file"
        )
        if copied["file_hashes"] or copied["receipts"]:
            lines.append(
                f"and the chain of custody: {copied['file_hashes']} file hash(es) and "
                f"{copied['receipts']} batch receipt record(s)"
            )
    else:
        lines.append("nothing could be read from the damaged file: the new database is empty")
    left = {t: salvaged.unreadable[t] + salvaged.dropped[t] for t in SALVAGED_TABLES}
    if any(left.values()):
        custody = left["file_hashes"] + left["receipts"]
        lines.append(
            f"left behind: {left['jobs']} job(s), {left['batches']} batch(es), "
            f"{left['parts']} part(s) and {custody} custody record(s) that could not be read "
            "or had lost what they belong to"
        )
    if salvaged.end_unread and any(copied.values()):
        lines.append(
            f"the {' and '.join(sorted(salvaged.end_unread))} table(s) could not be read to "
            "their end: more rows may be missing"
        )
    if salvaged.restarted_uploads:
        lines.append(
            f"{salvaged.restarted_uploads} unfinished upload(s) lost parts and will start over"
        )
    lines.append(
        "when watchd starts next, it rescans the drop folders and queues the files the new "
        "database does not know"
    )
    return "\n".join(lines)
