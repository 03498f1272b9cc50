"""The daemon's health: named problems, each logged once when it starts and when it ends.

Problems come from the folders (missing, unmounted, unreadable, inotify limit,
observer died, project unresolved), the API (authentication failing), the
database, and the disk holding the state folder. They show in status.json,
`watchd status` (and its exit code) and systemd's STATUS= line.
"""

from __future__ import annotations

import logging
import shutil
import threading
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from watchd.base.events import Event, EventKind, EventSink, ignore_events
from watchd.store.database import Database
from watchd.store.queries import archive_waits, job_counts

log = logging.getLogger(__name__)

LOW_DISK_BYTES = 256 * 1024 * 1024  # free space in the state folder below this is a problem


class HealthBoard:
    """The current problems by name; changes are logged once each way."""

    def __init__(self, events: EventSink = ignore_events) -> None:
        self._lock = threading.Lock()
        self._problems: dict[str, str] = {}
        self.events = events  # told when a problem starts and ends (notifications)

    def set(self, name: str, problem: str | None) -> None:
        """Record ``problem`` under ``name`` (None: the problem is over)."""
        with self._lock:
            before = self._problems.get(name)
            if problem is None:
                self._problems.pop(name, None)
            else:
                self._problems[name] = problem
        if problem is not None and before is None:
            log.error("health problem: %s: %s", name, problem)
            text = f"health problem: {name}: {problem}"
            self.events(Event(EventKind.PROBLEM, text, folder=_folder(name), errors=(text,)))
        elif problem is None and before is not None:
            log.info("health problem over: %s (was: %s)", name, before)
            text = f"health problem over: {name} (was: {before})"
            self.events(Event(EventKind.PROBLEM_OVER, text, folder=_folder(name)))

    def replace_prefix(self, prefix: str, problems: dict[str, str]) -> None:
        """Set every problem whose name starts with ``prefix`` to exactly ``problems``."""
        with self._lock:
            current = [n for n in self._problems if n.startswith(prefix)]
        for name in current:
            if name not in problems:
                self.set(name, None)
        for name, problem in problems.items():
            self.set(name, problem)

    def problems(self) -> dict[str, str]:
        with self._lock:
            return dict(self._problems)


def _folder(problem_name: str) -> str | None:
    """Return the drop folder a problem is about ("folder X", "files X"), else None."""
    kind, _, folder = problem_name.partition(" ")
    return folder if kind in ("folder", "files", "archive") and folder else None


def refresh_health(
    board: HealthBoard,
    folders: list[dict[str, Any]],
    auth_error: str | None,
    state_dir: Path,
    outage: str | None = None,
) -> None:
    """Bring the board up to date with the folders, the API login, the service and the disk."""
    board.replace_prefix(
        "folder ",
        {
            f"folder {f['name']}": f"{f['health']}: {f['message']}"
            for f in folders
            if f["health"] != "ok"
        },
    )
    board.replace_prefix(
        "files ",
        {f"files {f['name']}": _files_problem(f["problems"]) for f in folders if f.get("problems")},
    )
    board.set("authentication", auth_error)
    board.set(
        "flowcapture",
        None
        if outage is None or auth_error is not None
        else f"cannot reach Flow Capture ({outage}); files wait without spending attempts "
        "and go on when it answers",
    )
    board.set("disk", disk_problem(state_dir))


def _files_problem(problems: list[dict[str, str]]) -> str:
    first = problems[0]
    more = f" (and {len(problems) - 1} more; see `watchd status`)" if len(problems) > 1 else ""
    return f"{len(problems)} file(s) cannot be taken: {first['file']}: {first['reason']}{more}"


def counted_jobs(db: Database, board: HealthBoard) -> dict[str, int]:
    """Return the jobs per state; a database failure becomes the "database" problem.

    Files uploaded but waiting for their archive (full, read-only) are a problem of
    their folder's ("archive NAME"): the drop folder itself is fine, so nothing else
    would say so.
    """
    try:
        with db.reading(display=True) as session:
            counts = job_counts(session)
            waits = archive_waits(session)
    except SQLAlchemyError as exc:
        board.set("database", f"{type(exc).__name__}: {exc}".splitlines()[0])
        return {}
    board.set("database", None)
    board.replace_prefix(
        "archive ",
        {
            f"archive {folder}": f"{count} uploaded file(s) wait: {error}"
            for folder, (count, error) in waits.items()
        },
    )
    return counts


def store_write_problem(error: Exception, state_dir: Path) -> str:
    """Return the health sentence for a failed database write (uploads pause meanwhile)."""
    cause = error.orig if isinstance(error, DBAPIError) else error
    text = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    if "full" in text.lower():
        try:
            free = shutil.disk_usage(state_dir).free // (1024 * 1024)
        except OSError:
            free = 0
        return (
            f"state disk full: {free} MiB free in {state_dir}; uploads are paused and go on "
            "by themselves once there is room"
        )
    return f"cannot write the state database ({text}); uploads are paused and tried again"


def disk_problem(state_dir: Path) -> str | None:
    """Return a problem sentence when the state folder's disk is (nearly) full."""
    try:
        free = shutil.disk_usage(state_dir).free
    except OSError as exc:
        return f"cannot check free space in {state_dir}: {exc.strerror}"
    if free < LOW_DISK_BYTES:
        return f"only {free // (1024 * 1024)} MiB free on the disk of {state_dir}"
    return None


def status_line(folders: int, counts: dict[str, int], problems: dict[str, str]) -> str:
    """Return the one-line summary for systemd's STATUS=.

    For example '3 folders, 2 uploading, 14 queued, 0 failed', plus the first
    problem when there is one.
    """
    queued = counts.get("queued", 0) + counts.get("waiting", 0)
    line = (
        f"{folders} folder{'s' if folders != 1 else ''}, {counts.get('uploading', 0)} uploading, "
        f"{queued} queued, {counts.get('failed', 0)} failed"
    )
    if problems:
        first = next(iter(problems))
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        line += f"; PROBLEM {first}: {problems[first]}{more}"
    return line
