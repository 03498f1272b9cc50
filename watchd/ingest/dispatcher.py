"""Handing runnable jobs to a bounded pool of worker threads.

One thread looks for work (on a poke or every ``POLL_SECONDS``) and submits at
most as many jobs as there are free workers, so a queue of 100,000 files costs
a database query, not memory. Waiting jobs whose time has come are put back
in line by :func:`requeue_due`, which the scheduler runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy import case, select, update

from watchd.store.database import Database
from watchd.store.models import Job, JobState

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # longest a runnable job waits for the dispatcher to notice it
RUNNABLE_STATES = (JobState.INGESTING, JobState.UPLOADING, JobState.QUEUED)


def requeue_due(db: Database, now: datetime | None = None) -> int:
    """Put waiting jobs whose next attempt is due back in line; return how many."""
    now = now or datetime.now(UTC)
    with db.transaction() as session:
        result = session.execute(
            update(Job)
            .where(Job.state == JobState.WAITING, Job.next_attempt_at <= now)
            .values(  # Job.resume_state, as SQL
                state=case(
                    (Job.asset_id.is_(None), JobState.QUEUED.value),
                    else_=JobState.INGESTING.value,
                ),
                next_attempt_at=None,
                updated_at=now,
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)


class Dispatcher:
    """Runs ``run_job(job_id)`` for runnable jobs on ``workers`` threads."""

    def __init__(
        self,
        db: Database,
        run_job: Callable[[int], None],
        workers: int,
        folders: Callable[[], Iterable[str]],
    ):
        self.db = db
        self.run_job = run_job
        self.folders = folders  # only jobs of configured folders are run
        self.workers = max(1, workers)
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="job")
        self._running: dict[int, Future[None]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="dispatcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def poke(self) -> None:
        """Look for work now (a file was queued, a batch closed)."""
        self._wake.set()

    def alive(self) -> bool:
        """True while the dispatcher thread runs."""
        return self._thread.is_alive()

    def running(self) -> list[int]:
        with self._lock:
            return list(self._running)

    def stop(self, timeout: float) -> bool:
        """Stop taking work and wait up to ``timeout`` for running jobs; True if all ended."""
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        self._thread.join(timeout)
        with self._lock:
            futures = list(self._running.values())
        done = all(_wait(f, deadline - time.monotonic()) for f in futures)
        self._pool.shutdown(wait=False, cancel_futures=True)
        return done

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._fill()
            except Exception:
                log.exception("dispatcher could not look for work; trying again")
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()

    def _fill(self) -> None:
        with self._lock:
            free = self.workers - len(self._running)
            busy = list(self._running)
        if free <= 0:
            return
        for job_id in self._next_jobs(free, busy):
            future = self._pool.submit(self._run, job_id)
            with self._lock:
                self._running[job_id] = future

    def _next_jobs(self, limit: int, busy: list[int]) -> list[int]:
        priority = case(
            (Job.state == JobState.INGESTING, 0), (Job.state == JobState.UPLOADING, 1), else_=2
        )
        with self.db.reading() as session:
            return list(
                session.scalars(
                    select(Job.id)
                    .where(
                        Job.state.in_(RUNNABLE_STATES),
                        Job.id.not_in(busy),
                        Job.folder.in_(list(self.folders())),
                    )
                    .order_by(priority, Job.id)
                    .limit(limit)
                )
            )

    def _run(self, job_id: int) -> None:
        try:
            if not self._stop.is_set():
                self.run_job(job_id)
        except Exception:
            log.exception("job=%d: unexpected error in the worker; it will be tried again", job_id)
            self._stop.wait(POLL_SECONDS)  # do not spin on a job that keeps crashing
        finally:
            with self._lock:
                self._running.pop(job_id, None)
            self._wake.set()


def _wait(future: Future[None], timeout: float) -> bool:
    try:
        future.result(max(timeout, 0.0))
    except Exception:  # noqa: BLE001 - errors were logged by the worker
        return future.done()
    return True
