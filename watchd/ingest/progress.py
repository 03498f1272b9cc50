"""In-flight transfers, for `watchd status`: bytes done, total and rate per job.

Listeners (the daemon's metrics) hear of each part sent and each file whose
bytes all went up; this layer knows nothing of what they do with it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass
class Transfer:
    """One file being uploaded."""

    job_id: int
    folder: str
    filename: str
    total: int
    done: int
    started: float  # clock time the transfer (re)started
    done_at_start: int  # bytes already done then (parts sent before a restart)

    def rate(self, now: float) -> float:
        """Bytes per second sent since this transfer (re)started."""
        elapsed = now - self.started
        return (self.done - self.done_at_start) / elapsed if elapsed > 0 else 0.0


class TransferListener(Protocol):
    """Told what was sent (called from worker threads; must be quick and not raise)."""

    def part_sent(self, size: int, seconds: float) -> None: ...

    def file_sent(self, size: int, seconds: float) -> None: ...


class TransferBoard:
    """Thread-safe list of the transfers in progress."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._transfers: dict[int, Transfer] = {}
        self._listeners: list[TransferListener] = []

    def add_listener(self, listener: TransferListener) -> None:
        self._listeners.append(listener)

    def part_sent(self, size: int, seconds: float) -> None:
        """A part was accepted after ``seconds`` on the wire."""
        for listener in self._listeners:
            listener.part_sent(size, seconds)

    def start(self, job_id: int, folder: str, filename: str, total: int, done: int) -> None:
        with self._lock:
            self._transfers[job_id] = Transfer(
                job_id, folder, filename, total, done, self._clock(), done
            )

    def update(self, job_id: int, done: int) -> None:
        with self._lock:
            transfer = self._transfers.get(job_id)
            if transfer is not None:
                transfer.done = done

    def finish(self, job_id: int) -> None:
        """The transfer ended; if every byte went up, listeners hear this run's rate."""
        now = self._clock()
        with self._lock:
            transfer = self._transfers.pop(job_id, None)
        if transfer is None or transfer.done < transfer.total:
            return  # failed or stopped: not a throughput
        sent = transfer.done - transfer.done_at_start
        if sent > 0:
            for listener in self._listeners:
                listener.file_sent(sent, now - transfer.started)

    def snapshot(self) -> list[dict[str, object]]:
        """Return the transfers as plain dicts with their current rate."""
        now = self._clock()
        with self._lock:
            return [
                {
                    "job": t.job_id,
                    "folder": t.folder,
                    "file": t.filename,
                    "bytes_done": t.done,
                    "bytes_total": t.total,
                    "rate_bytes_per_second": round(t.rate(now)),
                }
                for t in self._transfers.values()
            ]
