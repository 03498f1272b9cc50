"""`watchd db upgrade`: bring the database to this watchd's schema by hand.

The daemon does this itself at start; the command is for upgrades done ahead
of a restart, and to see the schema revision (`watchd db current`).
"""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.exc import SQLAlchemyError

from watchd.cli.config_path import add_config_argument, load_or_report
from watchd.store.database import Database, database_url
from watchd.store.migrate import SchemaError, current_revision, head_revision, upgrade


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("db", help="database schema: upgrade, current")
    actions = parser.add_subparsers(dest="db_action", metavar="ACTION", required=True)
    for name, helptext in (
        ("upgrade", "upgrade the database to this watchd's schema"),
        ("current", "show the database's schema revision and this watchd's"),
    ):
        action = actions.add_parser(name, help=helptext, description=helptext)
        add_config_argument(action)
        action.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_or_report(args.config)
    if config is None:
        return 2
    if config.database is None:
        config.state_dir.mkdir(parents=True, exist_ok=True)
    db = Database(database_url(config.database, config.state_dir))
    try:
        if args.db_action == "upgrade":
            revision = upgrade(db.engine)
            print(f"database is at schema revision {revision} (the newest this watchd knows)")
        else:
            current = current_revision(db.engine) or "none (empty database)"
            print(f"database revision: {current}\nthis watchd's newest: {head_revision()}")
    except (SchemaError, SQLAlchemyError) as exc:
        print(f"watchd db {args.db_action}: {exc}", file=sys.stderr)
        return 1
    finally:
        db.close()
    return 0
