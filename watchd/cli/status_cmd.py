"""`watchd status`: is the daemon running, are the folders healthy, what is it doing.

Exit codes for monitoring scripts: 0 running and healthy, 1 running with a
problem (a folder unhealthy, jobs failed) or a database that cannot be read
(running or not: it needs someone either way), 3 not running.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from watchd.base.clock import SYSTEM_CLOCK
from watchd.base.names import printable
from watchd.cli.config_path import add_config_argument, load_for_operator
from watchd.cli.store_access import NoDatabase, open_database
from watchd.config import Config
from watchd.daemon.bandwidth_control import BandwidthControl, bandwidth_line
from watchd.daemon.runtime_files import STATUS_STALE_SECONDS, daemon_pid, read_status
from watchd.daemon.transfer_view import transfer_line
from watchd.ingest.aborts import SWEEP_EVERY_SECONDS
from watchd.store.database import database_problem, database_url
from watchd.store.leases import NodeInfo, nodes
from watchd.store.queries import job_counts, open_batches, recent_errors, uploads_to_abort

EXIT_HEALTHY, EXIT_UNHEALTHY, EXIT_NOT_RUNNING = 0, 1, 3
NOT_CREATED = "not created yet"
DATABASE_FINE = frozenset({"ok", NOT_CREATED})


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "status",
        help="show folders, queues, uploads in flight, open batches and recent errors",
        description="Show what the daemon is doing. Exit code: 0 healthy, 1 a problem "
        "(unhealthy folder, failed jobs, a database that cannot be read), 3 daemon not running.",
    )
    add_config_argument(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(func=run)


def gather(config: Config) -> dict[str, Any]:
    """Return everything status shows, as a JSON-ready dict."""
    pid = daemon_pid(config.state_dir)
    daemon = read_status(config.state_dir) if pid else None
    written = float(daemon.get("written_at", 0)) if daemon else 0.0
    fresh = time.time() - written < STATUS_STALE_SECONDS
    report: dict[str, Any] = {
        "running": pid is not None,
        "pid": pid,
        "responding": fresh,
        "folders": (daemon or {}).get("folders") or _configured_folders(config),
        "transfers": (daemon or {}).get("transfers", []) if pid else [],
        "problems": (daemon or {}).get("problems", {}) if pid else {},
        # From the same config and override file the daemon reads: current even right
        # after `watchd throttle`, and what would apply when it is not running.
        "bandwidth": BandwidthControl(config, SYSTEM_CLOCK).report(),
    }
    report.update(_from_database(config))
    return report


def _configured_folders(config: Config) -> list[dict[str, Any]]:
    return [
        {"name": f.name, "path": str(f.path), "health": "not running", "message": ""}
        for f in config.folders
    ]


def _from_database(config: Config) -> dict[str, Any]:
    empty: dict[str, Any] = {
        "jobs": {},
        "open_batches": [],
        "recent_errors": [],
        "uploads_to_abort": 0,
        "nodes": [],
    }
    try:
        with open_database(config) as db:
            with db.reading() as session:
                found = {
                    "jobs": job_counts(session),
                    "open_batches": open_batches(session),
                    "recent_errors": recent_errors(session),
                    "uploads_to_abort": uploads_to_abort(session),
                    "database": "ok",
                }
            shared = db.engine.dialect.name == "postgresql"
            found["nodes"] = [_node_row(n, config.node.lease) for n in nodes(db)] if shared else []
            return found
    except NoDatabase:
        return {**empty, "database": NOT_CREATED}
    except SQLAlchemyError as exc:  # one line naming the file and what to do
        url = database_url(config.database, config.state_dir)
        return {**empty, "database": str(database_problem(exc, url))}


def _node_row(node: NodeInfo, lease: float) -> dict[str, Any]:
    return {
        "name": node.name,
        "host": node.host,
        "pid": node.pid,
        "state": "stopped"
        if node.stopped_at is not None
        else ("silent" if node.seconds_since_heartbeat > lease else "running"),
        "heartbeat_seconds_ago": round(node.seconds_since_heartbeat, 1),
        "jobs_held": node.jobs_held,
        "folders_watched": node.folders_held,
    }


def exit_code(report: dict[str, Any]) -> int:
    if report["database"] not in DATABASE_FINE:
        return EXIT_UNHEALTHY  # running or not: nothing works until someone sees to it
    if not report["running"]:
        return EXIT_NOT_RUNNING
    unhealthy = (
        any(f.get("health") != "ok" or f.get("problems") for f in report["folders"])
        or report["problems"]
    )
    failed = report["jobs"].get("failed", 0) > 0
    if unhealthy or failed or not report["responding"] or report["database"] != "ok":
        return EXIT_UNHEALTHY
    return EXIT_HEALTHY


def run(args: argparse.Namespace) -> int:
    config = load_for_operator(args.config)
    if config is None:
        return 2
    report = gather(config)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(render(report, config.state_dir))
    return exit_code(report)


def render(report: dict[str, Any], state_dir: Path) -> str:
    """Return the report as text for people."""
    lines = [_daemon_line(report, state_dir)]
    lines.append(bandwidth_line(report["bandwidth"]))
    if report["database"] != "ok":  # first: nothing below can be trusted without it
        lines += ["", f"Database: {report['database']}"]
    if report["problems"]:
        lines += ["", "Problems:"]
        lines += [f"  {name}: {text}" for name, text in report["problems"].items()]
    lines += ["", "Folders:"]
    folders = report["folders"]
    named = max([16, *(len(f["name"]) for f in folders)])
    health = max([10, *(len(f["health"]) for f in folders)])
    for folder in folders:
        message = folder.get("message") or ""
        path = "" if folder["path"] in message else folder["path"]  # (said once)
        note = f" - {message}" if message else ""
        settling = f", {folder['settling']} settling" if folder.get("settling") else ""
        lines.append(
            f"  {folder['name']:<{named}} {folder['health']:<{health}} {path}{settling}{note}"
        )
        for problem in folder.get("problems", []):
            lines.append(f"    cannot take {problem['file']}: {problem['reason']}")
    lines += _node_lines(report["nodes"])
    counts = report["jobs"]
    if counts:
        lines += [
            "",
            "Files: "
            + (", ".join(f"{n} {state}" for state, n in counts.items() if n) or "none yet"),
        ]
    if report["transfers"]:
        lines += ["", "Uploading:"]
        paused = (report.get("bandwidth") or {}).get("cap") == "paused"
        for t in report["transfers"]:
            shown = transfer_line(t, paused)
            lines.append(f"  job {t['job']:<6} {printable(t['file'])}  {shown}")
    if report["uploads_to_abort"]:
        lines += [
            "",
            f"Uploads waiting to be aborted on Flow Capture: {report['uploads_to_abort']} "
            f"(of cancelled or failed files; tried again every {SWEEP_EVERY_SECONDS:.0f} s, "
            "less often while they keep failing)",
        ]
    if report["open_batches"]:
        lines += ["", "Open batches:"]
        for b in report["open_batches"]:
            lines.append(f"  {b['folder']}: {b['name']!r} ({b['state']}, {b['files']} file(s))")
    if report["recent_errors"]:
        lines += ["", "Recent errors:"]
        for e in report["recent_errors"]:
            lines.append(
                f"  job {e['job']} {e['state']} {printable(e['file'])}: {printable(e['error'])}"
            )
    return "\n".join(lines)


def _node_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The nodes sharing a PostgreSQL database (none on SQLite)."""
    if not rows:
        return []
    lines = ["", "Nodes (sharing the database):"]
    for node in rows:
        watched = ", ".join(node["folders_watched"]) or "-"
        lines.append(
            f"  {node['name']:<16} {node['state']:<8} on {node['host']}, heartbeat "
            f"{node['heartbeat_seconds_ago']:.0f}s ago, {node['jobs_held']} job(s) held, "
            f"watching: {watched}"
        )
    return lines


def _daemon_line(report: dict[str, Any], state_dir: Path) -> str:
    if not report["running"]:
        return f"watchd is not running (state folder {state_dir})."
    if not report["responding"]:
        return f"watchd (pid {report['pid']}) is running but has not reported for a while."
    return f"watchd is running (pid {report['pid']})."
