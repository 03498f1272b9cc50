"""Shared budgets for uploads in flight: bytes held in memory, requests on the wire.

Every part read into memory holds its size from the byte budget until it has
been sent, every PUT of a part holds one request slot, and every API call of
the upload flow (init, a part's presigned URL, complete) holds one call slot,
as do the tagging of an asset and the abort of an upload (each try holds one:
a call waiting to try again holds none, see ``FlowCaptureClient.call``), so
many files uploading at once (small ones by the dozen, big ones in several
parts each) never hold more memory or send more requests at once to either
host than the budgets, whatever their number.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass

from watchd.base.stop import StopToken

WAIT_SLICE_SECONDS = 0.5  # a wait for room looks at the stop token this often


class Budget:
    """Up to ``limit`` units held at once; asking for more than the limit takes it all."""

    def __init__(self, limit: int):
        self.limit = max(1, limit)
        self._used = 0
        self._room = threading.Condition()

    @contextmanager
    def hold(self, amount: int, stop: StopToken | None = None) -> Iterator[None]:
        """Hold ``amount`` units while the block runs; waits for room (raises Stopped)."""
        taken = self.acquire(amount, stop)
        try:
            yield
        finally:
            self.release(taken)

    def acquire(self, amount: int, stop: StopToken | None = None) -> int:
        """Take ``amount`` units (at most the limit), waiting for room; return what was taken.

        Raises Stopped when ``stop`` is set before or while waiting, even if room
        was made at the same moment: what a stopped caller would do with the units
        (send a request, commit that it will) must not happen.
        """
        amount = min(max(amount, 0), self.limit)
        with self._room:
            while True:
                if stop is not None:
                    stop.check()
                if self._used + amount <= self.limit:
                    break
                self._room.wait(WAIT_SLICE_SECONDS)
            self._used += amount
        return amount

    def release(self, amount: int) -> None:
        """Give back units taken with :meth:`acquire`."""
        with self._room:
            self._used -= min(amount, self.limit)
            self._room.notify_all()

    @property
    def used(self) -> int:
        with self._room:
            return self._used


def holding(
    budget: Budget | None, amount: int, stop: StopToken | None = None
) -> AbstractContextManager[None]:
    """``budget.hold(amount, stop)``, or nothing to hold when there is no budget."""
    return budget.hold(amount, stop) if budget is not None else nullcontext()


@dataclass(frozen=True)
class TransferBudgets:
    """What all uploads share (None: no limit): bytes of parts in memory, PUTs of parts
    in flight, API calls of the upload flow (and tagging, aborts) in flight."""

    memory: Budget | None = None
    puts: Budget | None = None
    calls: Budget | None = None

    @classmethod
    def sized(cls, buffer_bytes: int, connections: int) -> TransferBudgets:
        """``buffer_bytes`` of parts in memory; ``connections`` PUTs, and as many calls."""
        return cls(Budget(buffer_bytes), Budget(connections), Budget(connections))


UNLIMITED = TransferBudgets()
