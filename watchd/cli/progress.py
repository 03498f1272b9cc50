"""A one-line progress bar on stderr, drawn only when stderr is a terminal."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 30
REDRAW_SECONDS = 0.2  # at most five redraws a second


class ProgressLine:
    """Shows ``label  [#####.....]  42%  12.3 MB/s`` and rewrites it in place."""

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
        self.started = clock()
        self._drawn = 0.0

    def update(self, done: int, total: int) -> None:
        """Redraw for ``done`` of ``total`` bytes (throttled)."""
        now = self.clock()
        if not self.enabled or (now - self._drawn < REDRAW_SECONDS and done < total):
            return
        self._drawn = now
        share = done / total if total else 1.0
        filled = int(BAR_WIDTH * share)
        rate = done / (now - self.started) / 1e6 if now > self.started else 0.0
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        self.stream.write(f"\r{self.label}  [{bar}] {share:4.0%}  {rate:6.1f} MB/s")
        self.stream.flush()

    def note(self, text: str) -> None:
        """Show a short status instead of the bar (e.g. the server's processing progress)."""
        if self.enabled:
            self.stream.write(f"\r{self.label}  {text:<{BAR_WIDTH + 20}}")
            self.stream.flush()

    def finish(self, text: str = "") -> None:
        """End the line (with a closing word when given)."""
        if self.enabled:
            self.stream.write(f"\r{self.label}  {text:<{BAR_WIDTH + 20}}\n")
            self.stream.flush()
