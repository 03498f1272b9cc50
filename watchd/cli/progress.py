"""A one-line progress bar on stderr, drawn by ``rich`` and only when stderr is a terminal.

Not a terminal (a pipe, a log, cron, the tests): nothing is written, so the
commands' plain output stays as it was.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

REDRAW_SECONDS = 0.2  # at most five redraws a second


class ProgressLine:
    """Shows ``label  ━━━━━━╺━━━  42%  1.2/3.0 GB  12.3 MB/s  0:00:12`` and redraws it in place."""

    def __init__(
        self,
        label: str,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.clock = clock
        self._lock = threading.Lock()  # parts report from several threads
        self._drawn = 0.0
        self._progress: Progress | None = None

    def _bar(self) -> Progress:
        if self._progress is None:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(file=self.stream, force_terminal=True),
                auto_refresh=False,  # redrawn by update(), throttled: no thread of its own
            )
            self._progress.add_task(self.label, total=None)
            self._progress.start()
        return self._progress

    def _draw(self, *, force: bool, **fields: object) -> None:
        with self._lock:
            bar = self._bar()
            bar.update(bar.task_ids[0], **fields)  # type: ignore[arg-type]
            now = self.clock()
            if force or now - self._drawn >= REDRAW_SECONDS:
                self._drawn = now
                bar.refresh()

    def update(self, done: int, total: int) -> None:
        """Redraw for ``done`` of ``total`` bytes (throttled)."""
        if self.enabled:
            self._draw(force=done >= total, completed=done, total=total, description=self.label)

    def note(self, text: str) -> None:
        """Show a short status beside the label (e.g. the server's processing progress)."""
        if self.enabled:
            self._draw(force=True, description=f"{self.label}  {text}")

    def finish(self, text: str = "") -> None:
        """End the line (with a closing word when given)."""
        if not self.enabled:
            return
        self._draw(force=True, description=f"{self.label}  {text}".rstrip())
        with self._lock:
            if self._progress is not None:
                self._progress.stop()
