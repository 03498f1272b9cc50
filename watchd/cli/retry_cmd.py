"""`watchd retry`: give failed files another set of attempts (the daemon picks them up)."""

from __future__ import annotations

import argparse
import sys

from watchd.cli.config_path import add_config_argument
from watchd.cli.store_access import run_job_change
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
    jobs = None if args.failed else list(args.jobs)
    return run_job_change(
        args,
        "retry",
        lambda session: retry_failed(session, jobs),
        done="retried",
        refused="not_failed",
        verb="retrying",
        later="they are retried",
    )
