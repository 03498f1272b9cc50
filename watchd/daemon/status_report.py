"""What the daemon says about itself every few seconds: status.json and the STATUS= line.

The report is built from the folders, the API client, the job counts in the
database and the transfers in flight; health problems are refreshed on the
way (each logged once when it starts and when it ends).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from watchd import __version__
from watchd.daemon.bandwidth_control import summary as cap_summary
from watchd.daemon.bandwidth_control import worth_showing
from watchd.daemon.folders import FolderSet
from watchd.daemon.health import HealthBoard, counted_jobs, refresh_health, status_line
from watchd.flowcapture.client import FlowCaptureClient
from watchd.ingest.progress import TransferBoard
from watchd.store.database import Database
from watchd.store.queries import uploads_to_abort


@dataclass
class StatusSources:
    """Where the report's figures come from."""

    config_path: Path
    state_dir: Path
    health: HealthBoard
    folders: FolderSet
    client: FlowCaptureClient
    db: Database
    board: TransferBoard
    running_jobs: Callable[[], list[int]]
    started_at: float = 0.0
    bandwidth: Callable[[], dict[str, Any]] | None = None  # the upload cap in force and why

    def __post_init__(self) -> None:
        self.started_at = self.started_at or time.time()


def build_report(sources: StatusSources, *, stopped: bool) -> tuple[str, dict[str, Any]]:
    """Refresh health; return the STATUS= summary and the status.json document."""
    folders = sources.folders.status()
    client = sources.client
    refresh_health(sources.health, folders, client.auth_error, sources.state_dir, client.outage)
    counts = counted_jobs(sources.db, sources.health)
    summary = status_line(len(folders), counts, sources.health.problems())
    bandwidth = sources.bandwidth() if sources.bandwidth else None
    if bandwidth is not None and worth_showing(bandwidth):
        summary += f"; {cap_summary(bandwidth['cap'], bandwidth)}"
    return summary, {
        "pid": os.getpid(),
        "version": __version__,
        "config": str(sources.config_path),
        "started_at": sources.started_at,
        "stopped": stopped,
        "summary": summary,
        "problems": sources.health.problems(),
        "folders": folders,
        "transfers": sources.board.snapshot(),
        "running_jobs": sources.running_jobs(),
        "uploads_to_abort": _uploads_to_abort(sources.db),
        "bandwidth": bandwidth,
    }


def _uploads_to_abort(db: Database) -> int | None:
    try:
        with db.reading(display=True) as session:
            return uploads_to_abort(session)
    except SQLAlchemyError:
        return None  # the "database" health problem says why
