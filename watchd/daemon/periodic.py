"""The daemon's periodic work: requeue due jobs, close batches, rescan, resolve projects,
write the status, sweep uploads left open.

A job that cannot write the database reports it once as a health problem
(uploads pause), instead of a traceback at every run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.exc import SQLAlchemyError

from watchd.base.stop import StopToken
from watchd.daemon.folders import FolderSet
from watchd.daemon.scheduler import every
from watchd.ingest.aborts import SWEEP_EVERY_SECONDS
from watchd.ingest.dispatcher import Dispatcher
from watchd.ingest.pipeline import Pipeline
from watchd.ingest.receipts_step import ReceiptWriter

STATUS_EVERY_SECONDS = 2.0
BATCH_CLOSE_EVERY_SECONDS = 1.0
REQUEUE_EVERY_SECONDS = 1.0
PROJECT_RETRY_EVERY_SECONDS = 15.0  # a folder whose project could not be looked up yet
RECEIPTS_EVERY_SECONDS = 2.0  # finished batches get their receipt (also after a restart)


@dataclass
class PeriodicWork:
    """What the scheduler runs, and what it needs."""

    pipeline: Pipeline
    folders: FolderSet
    dispatcher: Dispatcher
    stop: StopToken
    write_status: Callable[[], None]
    store_problem: Callable[[Exception | None], None]
    receipts: ReceiptWriter | None = None
    _closing: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    # The runs still to look for waits set before the clock went back: once after the
    # start (it may have gone back while the daemon was down) and after each step back.
    _after_clock_step: set[str] = field(
        default_factory=lambda: {"requeue", "close-batches"}, init=False, repr=False
    )
    _step_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def schedule(self, scheduler: BackgroundScheduler, rescan_seconds: float) -> None:
        """Add every periodic job to ``scheduler`` (projects resolve at once)."""
        every(scheduler, REQUEUE_EVERY_SECONDS, "requeue", self.requeue)
        every(scheduler, BATCH_CLOSE_EVERY_SECONDS, "close-batches", self.close_batches)
        every(scheduler, rescan_seconds, "rescan", self.folders.rescan_all)
        every(
            scheduler,
            PROJECT_RETRY_EVERY_SECONDS,
            "projects",
            self.folders.resolve_pending,
            first_in=timedelta(0),
        )
        every(scheduler, STATUS_EVERY_SECONDS, "status", self.write_status)
        every(scheduler, SWEEP_EVERY_SECONDS, "abort-sweep", self.sweep_aborts)
        every(scheduler, RECEIPTS_EVERY_SECONDS, "receipts", self.write_receipts)

    def clock_set_back(self) -> None:
        """The system clock went back: the next requeue and batch close look for waits
        set before it (further off than watchd sets any)."""
        with self._step_lock:
            self._after_clock_step.update(("requeue", "close-batches"))

    def _take_clock_step(self, run: str) -> bool:
        with self._step_lock:
            if run not in self._after_clock_step:
                return False
            self._after_clock_step.discard(run)
            return True

    def requeue(self) -> None:
        with self._store_guard():
            if self.pipeline.requeue(self._take_clock_step("requeue")):
                self.dispatcher.poke()

    def close_batches(self, wait: bool = False) -> None:
        """Close the batches that may close. A run under way makes a tick skip; ``wait``
        (the last upload just ended: it may have missed it) runs once that one is over."""
        if not self._closing.acquire(blocking=wait):
            return
        try:
            with self._store_guard():
                if self.pipeline.closer.run_once(self._take_clock_step("close-batches")):
                    self.dispatcher.poke()
        finally:
            self._closing.release()

    def write_receipts(self) -> None:
        if self.receipts is not None:
            with self._store_guard():
                self.receipts.run_once()

    def sweep_aborts(self) -> None:
        with self._store_guard():
            if self.pipeline.aborts.due():
                self.pipeline.aborts.sweep(self.stop)

    def guarded(self, work: Callable[[], None]) -> Callable[[], None]:
        """Return ``work`` reporting a database it cannot write as a health problem."""

        def run() -> None:
            with self._store_guard():
                work()

        return run

    @contextmanager
    def _store_guard(self) -> Iterator[None]:
        try:
            yield
        except SQLAlchemyError as exc:
            self.store_problem(exc)
