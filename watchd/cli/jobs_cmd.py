"""`watchd jobs`: list files and their state; `watchd cancel`: stop some of them."""

from __future__ import annotations

import argparse
import json
from typing import Any

from sqlalchemy.orm import Session

from watchd.base.clock import SYSTEM_CLOCK
from watchd.base.names import printable
from watchd.cli.config_path import add_config_argument
from watchd.cli.store_access import add_limit_argument, in_database, note_daemon, run_listing
from watchd.config import Config
from watchd.store.models import JobState
from watchd.store.operator_actions import Cancelled, CancelOutcome, cancel_job
from watchd.store.queries import ERROR_STATES, list_jobs


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    jobs = subparsers.add_parser(
        "jobs", help="list files (jobs), newest first", description="List files, newest first."
    )
    add_config_argument(jobs)
    jobs.add_argument("--state", choices=[s.value for s in JobState], help="only this state")
    jobs.add_argument("--folder", help="only this drop folder (its name)")
    add_limit_argument(jobs, 50)
    jobs.add_argument("--json", action="store_true", help="print JSON")
    jobs.set_defaults(func=run_jobs)

    cancel = subparsers.add_parser(
        "cancel",
        help="cancel files that are not finished, or dismiss failed ones (the source file "
        "is left alone)",
        description="Cancel jobs that are not finished: the daemon stops sending them within "
        "a second and aborts their multipart uploads; the file is not queued again until it "
        "changes or `watchd retry` is run. A file already uploaded cannot be taken back: it "
        "is still closed into its batch, but its source is neither moved nor deleted. A "
        "failed file is dismissed the same way: cancelled, it no longer counts as a problem "
        "in `watchd status`.",
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
        none_found=lambda config: _unknown_folder(config, args.folder),
    )


def _unknown_folder(config: Config, folder: str | None) -> str | None:
    """A ``--folder`` that names no drop folder of the config (and no job's): a typo."""
    names = [f.name for f in config.folders]
    if folder is None or folder in names:
        return None
    known = ", ".join(names) if names else "none"
    return f"no drop folder named {folder!r} in the configuration (its folders: {known})"


def render_jobs(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no jobs"
    shared = any(row.get("node") for row in rows)  # several nodes: who works on what
    node_header = f"{'NODE':<12} " if shared else ""
    lines = [f"{'JOB':>6}  {'STATE':<10} {'SIZE':>10}  {node_header}{'BATCH':<16} FILE"]
    for row in rows:
        node = f"{(row.get('node') or '-')[:12]:<12} " if shared else ""
        lines.append(
            f"{row['job']:>6}  {row['state']:<10} {row['size']:>10}  {node}"
            f"{_cut(printable(row['batch'] or '-'), 16):<16} {printable(row['file'])}"
        )
        if row["error"] and row["state"] in ERROR_STATES:  # (a problem now)
            lines.append(f"{'':>8}{printable(row['error'])}")
        if row.get("note"):
            lines.append(f"{'':>8}{row['note']}")
    return "\n".join(lines)


def _cut(text: str, width: int) -> str:
    """``text`` in ``width`` characters: cut with an ellipsis if longer."""
    return text if len(text) <= width else text[: width - 1] + "…"


def run_cancel(args: argparse.Namespace) -> int:
    def cancel(session: Session) -> list[Cancelled]:
        now = SYSTEM_CLOCK.now()
        return [cancel_job(session, job_id, now) for job_id in dict.fromkeys(args.jobs)]

    outcome = in_database(args, "cancel", cancel, write=True)
    if isinstance(outcome, int):
        return outcome
    config, results = outcome
    by_outcome: dict[str, list[int]] = {o.value: [] for o in CancelOutcome}
    for result in results:
        by_outcome[result.outcome.value].append(result.job)
    if args.json:
        print(json.dumps(by_outcome))
    else:
        print(_cancel_text(results))
    if by_outcome["cancelled"] or by_outcome["source_kept"]:
        note_daemon(config, "their uploads are aborted")
    refused = (CancelOutcome.FINISHED, CancelOutcome.UNKNOWN, CancelOutcome.TOO_LATE)
    return 1 if any(r.outcome in refused for r in results) else 0


def _cancel_text(results: list[Cancelled]) -> str:
    cancelled = [r.job for r in results if r.outcome == CancelOutcome.CANCELLED]
    lines = []
    if cancelled:
        lines.append(f"cancelled {len(cancelled)} job(s): {' '.join(map(str, cancelled))}")
    for r in results:
        if r.outcome == CancelOutcome.SOURCE_KEPT:
            asset = f"asset {r.asset_id}" if r.asset_id is not None else "its asset"
            lines.append(
                f"job {r.job}: already uploaded to Flow Capture ({asset}), which a cancel "
                f"cannot undo: it is still closed into its batch {r.batch!r}, but its source "
                "will not be moved or deleted"
            )
        elif r.outcome == CancelOutcome.TOO_LATE:
            lines.append(f"job {r.job}: too late, its source is already being moved or deleted")
        elif r.outcome == CancelOutcome.FINISHED:
            lines.append(f"job {r.job}: already {r.state}, nothing to cancel")
        elif r.outcome == CancelOutcome.UNKNOWN:
            lines.append(f"job {r.job}: no such job")
    return "\n".join(lines)
