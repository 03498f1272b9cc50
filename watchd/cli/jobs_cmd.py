"""`watchd jobs`: list files and their state; `watchd cancel`: stop some of them."""

from __future__ import annotations

import argparse
from typing import Any

from watchd.cli.config_path import add_config_argument
from watchd.cli.store_access import run_job_change, run_listing
from watchd.store.models import JobState
from watchd.store.queries import cancel_jobs, list_jobs


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    jobs = subparsers.add_parser(
        "jobs", help="list files (jobs), newest first", description="List files, newest first."
    )
    add_config_argument(jobs)
    jobs.add_argument("--state", choices=[s.value for s in JobState], help="only this state")
    jobs.add_argument("--folder", help="only this drop folder (its name)")
    jobs.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    jobs.add_argument("--json", action="store_true", help="print JSON")
    jobs.set_defaults(func=run_jobs)

    cancel = subparsers.add_parser(
        "cancel",
        help="cancel files that are not finished (the source file is left alone)",
        description="Cancel jobs that are not finished: the daemon stops sending them and "
        "aborts their multipart uploads. Source files are not touched.",
    )
    add_config_argument(cancel)
    cancel.add_argument("jobs", nargs="+", type=int, metavar="JOB")
    cancel.add_argument("--json", action="store_true", help="print JSON")
    cancel.set_defaults(func=run_cancel)


def run_jobs(args: argparse.Namespace) -> int:
    return run_listing(
        args,
        "jobs",
        lambda session: list_jobs(session, state=args.state, folder=args.folder, limit=args.limit),
        render_jobs,
    )


def render_jobs(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no jobs"
    lines = [f"{'JOB':>6}  {'STATE':<10} {'SIZE':>10}  {'BATCH':<16} FILE"]
    for row in rows:
        lines.append(
            f"{row['job']:>6}  {row['state']:<10} {row['size']:>10}  "
            f"{(row['batch'] or '-')[:16]:<16} {row['file']}"
        )
        if row["error"] and row["state"] in ("waiting", "failed", "cancelled"):
            lines.append(f"{'':>8}{row['error']}")
    return "\n".join(lines)


def run_cancel(args: argparse.Namespace) -> int:
    return run_job_change(
        args,
        "cancel",
        lambda session: cancel_jobs(session, list(args.jobs)),
        done="cancelled",
        refused="already_finished_or_unknown",
        verb="cancelled",
        later="their uploads are aborted",
    )
