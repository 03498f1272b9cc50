"""What `watchd upload` shows: one progress line for all files, then the outcome per file.

An uploaded file is complete in the service, but Flow Capture still processes
it before it is listed in the folder; the outcome says so ("processing in Flow
Capture") unless --wait saw it listed.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import threading

from watchd.base.names import printable
from watchd.cli.api_access import print_json
from watchd.cli.progress import ProgressLine
from watchd.config.units import format_duration
from watchd.ingest.progress import TransferBoard


def show_outcome(
    args: argparse.Namespace,
    rows: list[dict[str, object]],
    missing: set[int] | None,
    wait_seconds: float | None,
) -> int:
    """Print the outcome (text or JSON); return the exit code."""
    for row in rows:  # listed: None when not looked for (no --wait, or not uploaded)
        row["listed"] = None
        if missing is not None and row["state"] == "done":
            row["listed"] = row["asset_id"] not in missing
    done = [row for row in rows if row["state"] == "done"]
    if args.json:
        print_json(rows)
    else:
        for row in done:
            where = "processing in Flow Capture" if not row["listed"] else "listed"
            if row["earlier"] and not row["listed"]:
                where = "uploaded by an earlier run"
            print(
                f"{printable(str(row['file']))}: asset {row['asset_id']} (uuid {row['uuid']}) "
                f"in batch {row['batch']!r}, {where}"
            )
        sent = [row for row in done if not row["earlier"]]
        if sent and missing is None:
            print(
                f"{len(sent)} file(s) uploaded and processing in Flow Capture: they are listed "
                "in the folder when it has finished (--wait waits for that)"
            )
        if done and not sent:
            print(f"nothing sent: the {len(done)} file(s) were uploaded by an earlier run")
    for row in rows:
        if row["state"] != "done":
            problem = printable(str(row["error"] or row["state"]))
            print(f"watchd upload: {printable(str(row['file']))}: {problem}", file=sys.stderr)
    if missing and wait_seconds is not None:
        print(
            f"watchd upload: {len(missing)} of {len(done)} asset(s) not listed after "
            f"{format_duration(wait_seconds)}: uploaded, but still processing in Flow Capture; "
            f"`watchd assets{' ' + shlex.quote(args.folder) if args.folder else ''}` shows them "
            "when it has finished",
            file=sys.stderr,
        )
        return 1
    return 1 if len(done) != len(rows) else 0


class UploadProgressBoard(TransferBoard):
    """The daemon's transfer board, drawing one progress line for all files on a terminal."""

    def __init__(self, total_bytes: int, files: int) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._sent: dict[int, int] = {}  # job -> bytes sent of the files under way or done
        self._done_files = 0
        self._files = files
        self._total = total_bytes
        self._line = ProgressLine(f"{files} file(s)")

    def start(self, job_id: int, folder: str, filename: str, total: int, done: int) -> None:
        super().start(job_id, folder, filename, total, done)
        self._record(job_id, done)

    def update(self, job_id: int, done: int) -> None:
        super().update(job_id, done)
        self._record(job_id, done)

    def finish(self, job_id: int) -> None:
        super().finish(job_id)
        with self._lock:
            self._done_files += 1

    def _record(self, job_id: int, done: int) -> None:
        with self._lock:
            self._sent[job_id] = done
            sent, finished = sum(self._sent.values()), self._done_files
        self._line.label = f"{finished}/{self._files} file(s)"
        self._line.update(sent, self._total)

    def close(self) -> None:
        """End the progress line."""
        self._line.finish("sent")
