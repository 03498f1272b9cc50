"""`watchd retry`: give failed or cancelled files another set of attempts."""

from __future__ import annotations

import argparse
import json
import sys

from sqlalchemy.orm import Session

from watchd.base.clock import SYSTEM_CLOCK
from watchd.cli.config_path import add_config_argument
from watchd.cli.store_access import in_database, note_daemon
from watchd.store.operator_actions import Retried, retry_jobs


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "retry",
        help="retry failed or cancelled files (by job id, or every failed one with --failed)",
        description="Put failed or cancelled jobs back in the queue with fresh attempts (a "
        "cancelled file is not queued again on its own until it changes). Works while the "
        "daemon runs; it picks them up within a second.",
    )
    add_config_argument(parser)
    parser.add_argument("jobs", nargs="*", type=int, metavar="JOB", help="job ids to retry")
    parser.add_argument("--failed", action="store_true", help="retry every failed job")
    parser.add_argument("--json", action="store_true", help="print the retried ids as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if bool(args.jobs) == bool(args.failed):
        what = "not both" if args.jobs else "e.g. watchd retry 12 15, or watchd retry --failed"
        print(f"watchd retry: give job ids or --failed ({what})", file=sys.stderr)
        return 2
    jobs = None if args.failed else list(args.jobs)

    def retry(session: Session) -> Retried:
        return retry_jobs(session, jobs, SYSTEM_CLOCK.now())

    outcome = in_database(args, "retry", retry, write=True)
    if isinstance(outcome, int):
        return outcome
    config, result = outcome
    if args.json:
        print(json.dumps({"retried": result.retried, "refused": result.refused}))
    elif args.failed and not result.retried:
        print("no failed files to retry")
    else:
        if result.retried:
            print(f"retrying {len(result.retried)} job(s): {' '.join(map(str, result.retried))}")
        for job_id, reason in sorted(result.refused.items()):
            print(f"job {job_id}: not retried: {reason}", file=sys.stderr)
    if result.retried:
        note_daemon(config, "they are retried")
    return 1 if result.refused else 0
