"""Memory for parts in flight: anonymous mappings, reused while uploads keep coming.

A part's bytes live in an anonymous mapping rather than on the heap: malloc
keeps freed blocks of many threads in its arenas (seen: 700 MiB resident for
a 256 MiB budget), while a mapping goes back to the system when it is closed.
Mappings are kept for reuse between parts, which spares the page faults and
zeroing of fresh memory (about a third of a second of CPU per GiB); spare ones
are closed once nothing asked for them for a while, so an idle daemon shrinks.
"""

from __future__ import annotations

import contextlib
import mmap
import threading
import time
from collections.abc import Callable

SPARE_SECONDS = 30.0  # a spare mapping nobody asked for in this long is closed
SIZE_STEP_BYTES = 1024 * 1024  # mappings come in whole MiB, so parts of a size share them


class BufferPool:
    """Hands out anonymous mappings and keeps up to ``spare_limit`` bytes of returned ones."""

    def __init__(self, spare_limit: int, clock: Callable[[], float] = time.monotonic):
        self.spare_limit = spare_limit
        self._clock = clock
        self._spare: dict[int, list[tuple[float, mmap.mmap]]] = {}
        self._spare_bytes = 0
        self._lock = threading.Lock()

    def take(self, size: int) -> mmap.mmap:
        """Return a mapping of at least ``size`` bytes (its content is whatever was there)."""
        capacity = max(1, -(-size // SIZE_STEP_BYTES)) * SIZE_STEP_BYTES
        with self._lock:
            self._close_stale()
            spare = self._spare.get(capacity)
            if spare:
                _, buffer = spare.pop()
                self._spare_bytes -= capacity
                return buffer
        return mmap.mmap(-1, capacity)

    def give(self, buffer: mmap.mmap) -> None:
        """Take a mapping back for reuse, or close it when the spares are full."""
        capacity = len(buffer)
        with self._lock:
            if self._spare_bytes + capacity <= self.spare_limit:
                self._spare.setdefault(capacity, []).append((self._clock(), buffer))
                self._spare_bytes += capacity
                return
        _close(buffer)

    def limit_spares(self, spare_limit: int) -> None:
        """Keep at most ``spare_limit`` bytes of spare mappings from now on (the memory
        budget for parts: spares beyond it would only linger); closes the excess now."""
        with self._lock:
            self.spare_limit = spare_limit
            for capacity, spare in self._spare.items():
                while spare and self._spare_bytes > spare_limit:
                    _, buffer = spare.pop(0)
                    self._spare_bytes -= capacity
                    _close(buffer)

    @property
    def spare_bytes(self) -> int:
        with self._lock:
            self._close_stale()
            return self._spare_bytes

    def _close_stale(self) -> None:
        cutoff = self._clock() - SPARE_SECONDS
        for capacity, spare in self._spare.items():
            while spare and spare[0][0] < cutoff:
                _, buffer = spare.pop(0)
                self._spare_bytes -= capacity
                _close(buffer)


def _close(buffer: mmap.mmap) -> None:
    with contextlib.suppress(BufferError):  # a body still being read keeps it until dropped
        buffer.close()


# Its spares are capped at the memory budget for parts (transfer.buffer, 256 MiB by
# default) when a pipeline is built: see ingest/pipeline.py.
PART_BUFFERS = BufferPool(spare_limit=256 * 1024 * 1024)
