"""Handing runnable jobs to a bounded pool of worker threads, and stopping them.

One thread looks for work (on a poke or every ``POLL_SECONDS``) and hands out
at most as many jobs as there are idle workers, so a queue of 100,000 files
costs a database query, not memory. Each running job has its own stop token,
a child of the daemon's: the same thread looks for running jobs that an
operator cancelled and stops their tokens, so parts in flight end within a
second. Waiting jobs whose time has come are put back in line by
:func:`requeue_due`, which the scheduler runs.

Which jobs this node may take is the claims' business (store/leases.py): on
one SQLite node every runnable job; on a shared PostgreSQL queue the jobs it
claimed under a lease, which this thread renews every third of the lease. A
job another node took over (this node could not renew in time) is stopped
here, and its state left to the node that has it now.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from datetime import timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.exc import SQLAlchemyError

from watchd.base.clock import SYSTEM_CLOCK, Clock
from watchd.base.stop import StopToken
from watchd.config.units import format_duration
from watchd.ingest.failures import SERVICE
from watchd.store.database import Database
from watchd.store.leases import Claims, LocalClaims
from watchd.store.models import Job, JobState
from watchd.store.operator_actions import OPERATOR_CANCEL_TEXT
from watchd.store.transitions import RESUME, move_jobs

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5  # longest a runnable job, or a cancel of a running one, waits to be seen
# Each worker that frees up wakes the dispatcher; the cancel check runs at most this often.
CANCEL_CHECK_SECONDS = 0.2
CRASH_PAUSE_SECONDS = 1.0  # a worker whose job crashed waits this long before the next
STORE_PAUSE_SECONDS = 5.0  # no new work this long after the database could not be written
TAKEN_OVER = "another node took the job over"


def requeue_due(
    db: Database,
    clock: Clock = SYSTEM_CLOCK,
    *,
    service_ok: bool = False,
    longest_wait: timedelta | None = None,
) -> int:
    """Put waiting jobs whose next attempt is due back in line; return how many.

    ``service_ok``: Flow Capture answers again, so jobs that waited on it go now.
    ``longest_wait``: a next attempt further off than this was set before the
    system clock went back; such jobs go now too (with a warning).
    """
    now = clock.now()
    due = Job.next_attempt_at <= now
    if service_ok:
        due = due | (Job.waiting_on == SERVICE)
    with db.transaction() as session:
        moved = move_jobs(session, RESUME, allowed=(JobState.WAITING,), now=now, where=due)
        if longest_wait is None:
            return moved
        stranded = move_jobs(
            session,
            RESUME,
            allowed=(JobState.WAITING,),
            now=now,
            where=Job.next_attempt_at > now + longest_wait,
        )
    if stranded:
        log.warning(
            "%d waiting job(s) were due later than any wait watchd sets (%s from now): the "
            "system clock went back, or retry.backoff_max was lowered; they go now",
            stranded,
            format_duration(longest_wait.total_seconds()),
        )
    return moved + stranded


# Which of the running jobs an operator cancelled; built once (asked at every wake).
_CANCELLED_AMONG = select(Job.id).where(
    Job.id.in_(bindparam("running", expanding=True)), Job.state == JobState.CANCELLED
)


class Dispatcher:
    """Runs ``run_job(job_id, stop)`` for runnable jobs on ``workers`` threads."""

    def __init__(
        self,
        db: Database,
        run_job: Callable[[int, StopToken], None],
        workers: int,
        folders: Callable[[], Iterable[str]],
        stop: StopToken,
        store_problem: Callable[[Exception | None], None] = lambda _error: None,
        claims: Claims | None = None,
        lease_seconds: float = 30.0,
        on_idle: Callable[[], None] = lambda: None,
    ):
        self.db = db
        # Told when the last running job ended and nothing else is runnable: a batch that
        # waited for its last upload may close now, not at the closer's next tick.
        self.on_idle = on_idle
        self._busy = False
        self.claims = claims or LocalClaims(db)
        self.renew_every = lease_seconds / 3
        self.lease_seconds = lease_seconds
        self._renewed_at = time.monotonic()
        # Told when writing the database fails (a full disk) and when a job's writes work again.
        self.store_problem = store_problem
        self._store_failed_at = 0.0
        self.run_job = run_job
        self.folders = folders  # only jobs of configured folders are run
        self.workers = max(1, workers)
        self.stop = stop
        self._tokens: dict[int, StopToken] = {}  # handed out or running -> its stop token
        # Runnable jobs found beyond the free workers (one node on its own database): handed
        # out as workers free up, without asking again, for at most POLL_SECONDS.
        self._spare: list[int] = []
        self._spare_until = 0.0
        self._cancel_checked_at = 0.0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._work: queue.Queue[int] = queue.Queue(maxsize=self.workers)
        self._threads = [threading.Thread(target=self._loop, name="dispatcher", daemon=True)]
        self._threads += [
            threading.Thread(target=self._serve, name=f"job-{n}", daemon=True)
            for n in range(1, self.workers + 1)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def poke(self) -> None:
        """Look for work now (a file was queued, a batch closed)."""
        self._wake.set()

    def alive(self) -> bool:
        """True while the dispatcher thread runs."""
        return self._threads[0].is_alive()

    def running(self) -> list[int]:
        with self._lock:
            return list(self._tokens)

    def threads(self) -> list[threading.Thread]:
        """The dispatcher's threads, for joining against the daemon's stop deadline."""
        return list(self._threads)

    # --- the dispatcher thread -----------------------------------------------------------

    def _loop(self) -> None:
        while not self.stop.stopped:
            try:
                self._stop_cancelled()
                self._renew_leases()
                if time.monotonic() - self._store_failed_at >= STORE_PAUSE_SECONDS:
                    self._fill()
                    self._notice_idle()
            except SQLAlchemyError as exc:
                self._store_failed(exc)
            except Exception:
                log.exception("dispatcher could not look for work; trying again")
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()
        self._wake.set()

    def _stop_cancelled(self) -> None:
        """Stop the tokens of running jobs an operator cancelled."""
        now = time.monotonic()
        if now - self._cancel_checked_at < CANCEL_CHECK_SECONDS:
            return
        self._cancel_checked_at = now
        with self._lock:
            running = list(self._tokens)
        if not running:
            return
        with self.db.reading() as session:
            cancelled = list(session.scalars(_CANCELLED_AMONG, {"running": running}))
        self._stop_jobs(cancelled, OPERATOR_CANCEL_TEXT)

    def _renew_leases(self) -> None:
        """Keep the leases of running jobs (shared queue); stop the jobs this node lost.

        When the database cannot be reached for most of a lease, every running
        job is stopped: another node may take them over once their leases end.
        """
        if not self.claims.shared or time.monotonic() - self._renewed_at < self.renew_every:
            return
        running = self.running()
        try:
            kept = self.claims.renew(running)
        except SQLAlchemyError as exc:
            if time.monotonic() - self._renewed_at > self.lease_seconds * 0.8:
                log.error(
                    "could not renew the leases of %d job(s) in time (%s); stopping them, "
                    "another node may take them over",
                    len(running),
                    str(exc).splitlines()[0],
                )
                self._stop_jobs(running, TAKEN_OVER)
            return
        self._renewed_at = time.monotonic()
        if not kept:
            lost = self.claims.lost(running)
            log.warning("job(s) %s taken over by another node; stopping them here", lost)
            self._stop_jobs(lost, TAKEN_OVER)

    def _stop_jobs(self, job_ids: Iterable[int], reason: str) -> None:
        for job_id in job_ids:
            with self._lock:
                token = self._tokens.get(job_id)
            if token is not None and not token.stopped:
                token.stop(reason)

    def _fill(self) -> None:
        with self._lock:
            free = self.workers - len(self._tokens)
            busy = list(self._tokens)
        if free <= 0:
            return
        for job_id in self._next_jobs(free, busy):
            with self._lock:
                self._tokens[job_id] = self.stop.child()
            self._work.put(job_id)

    def _notice_idle(self) -> None:
        with self._lock:
            idle = not self._tokens  # nothing running and nothing runnable found
        if idle and self._busy:
            try:
                self.on_idle()
            except Exception:
                log.exception("dispatcher: telling that it is idle failed; carrying on")
        self._busy = not idle

    def _next_jobs(self, limit: int, busy: list[int]) -> list[int]:
        """Return up to ``limit`` runnable jobs not running (claimed, on a shared queue):
        ingesting ones first, then those under way, then queued ones, oldest first.

        On its own database the dispatcher asks for a worker's worth more than it
        needs and hands those out as workers free up, for up to POLL_SECONDS: one
        question per many jobs, where it asked at every job's end (most of its
        CPU with many small files). A spare that moved meanwhile (cancelled, run)
        costs its worker one look at the job; one that became more urgent than a
        spare waits at most POLL_SECONDS. A shared queue claims what it is given,
        so it is asked for exactly what runs now.
        """
        if self.claims.shared:
            return self.claims.next_jobs(limit, busy, list(self.folders()))
        now = time.monotonic()
        if now >= self._spare_until or len(self._spare) < limit:
            self._spare = self.claims.next_jobs(limit + self.workers, busy, list(self.folders()))
            self._spare_until = now + POLL_SECONDS
        handed, self._spare = self._spare[:limit], self._spare[limit:]
        return handed

    def _store_failed(self, error: SQLAlchemyError) -> None:
        """Writing the database failed: pause handing out work; the daemon says why once."""
        self._store_failed_at = time.monotonic()
        self.store_problem(error)

    # --- the worker threads ----------------------------------------------------------------

    def _serve(self) -> None:
        while not self.stop.stopped:
            try:
                job_id = self._work.get(timeout=POLL_SECONDS)
            except queue.Empty:
                continue
            with self._lock:
                token = self._tokens.get(job_id) or self.stop.child()
            try:
                if not token.stopped:
                    self.run_job(job_id, token)
                    if self._store_failed_at:
                        self._store_failed_at = 0.0
                        self.store_problem(None)
            except SQLAlchemyError as exc:
                self._store_failed(exc)
            except Exception:
                log.exception(
                    "job=%d: unexpected error in the worker; it will be tried again", job_id
                )
                self.stop.wait(CRASH_PAUSE_SECONDS)  # do not spin on a job that keeps crashing
            finally:
                self._release(job_id)
                with self._lock:
                    self._tokens.pop(job_id, None)
                self._wake.set()

    def _release(self, job_id: int) -> None:
        """Give the job's lease back (shared queue), unless another node has it now."""
        try:
            self.claims.release(job_id)
        except SQLAlchemyError as exc:
            log.warning(
                "job=%d: could not give its lease back (%s); it runs out by itself",
                job_id,
                str(exc).splitlines()[0],
            )
