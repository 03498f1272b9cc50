"""`watchd retry`: give failed files another set of attempts (the daemon picks them up)."""

from __future__ import annotations

import argparse
import json
import sys

from watchd.cli.config_path import add_config_argument, load_or_report
from watchd.cli.store_access import NoDatabase, note_daemon, open_database
from watchd.store.queries import retry_failed


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "retry",
        help="retry failed files (by job id, or all with --failed)",
        description="Put failed jobs back in the queue with fresh attempts. Works while the "
        "daemon runs; it picks them up within a second.",
    )
    add_config_argument(parser)
    parser.add_argument("jobs", nargs="*", type=int, metavar="JOB", help="job ids to retry")
    parser.add_argument("--failed", action="store_true", help="retry every failed job")
    parser.add_argument("--json", action="store_true", help="print the retried ids as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if bool(args.jobs) == bool(args.failed):
        print("watchd retry: give job ids or --failed (not both)", file=sys.stderr)
        return 2
    config = load_or_report(args.config)
    if config is None:
        return 2
    try:
        with open_database(config) as db, db.transaction() as session:
            retried = retry_failed(session, None if args.failed else list(args.jobs))
    except NoDatabase as exc:
        print(f"watchd retry: {exc}", file=sys.stderr)
        return 1
    missing = sorted(set(args.jobs) - set(retried))
    if args.json:
        print(json.dumps({"retried": retried, "not_failed": missing}))
    else:
        print(f"retrying {len(retried)} job(s): {' '.join(map(str, retried)) or '-'}")
        if missing:
            print(f"not failed (left alone): {' '.join(map(str, missing))}", file=sys.stderr)
    if retried:
        note_daemon(config, "they are retried")
    return 1 if missing else 0
