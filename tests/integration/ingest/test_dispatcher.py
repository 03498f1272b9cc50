"""The dispatcher hands every runnable job to a worker once, asking the database seldom."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Collection

from watchd.base.stop import StopToken
from watchd.ingest.dispatcher import Dispatcher
from watchd.store.leases import LocalClaims
from watchd.store.models import JobState
from watchd.store.transitions import move_job


class CountingClaims(LocalClaims):
    asked = 0

    def next_jobs(self, limit: int, busy: Collection[int], folders: Collection[str]) -> list[int]:
        self.asked += 1
        return super().next_jobs(limit, busy, folders)


def test_each_job_runs_once_and_the_database_is_asked_far_less_than_once_a_job(core):
    jobs = [core.queue(f"clip{n:02}.mov", 1024) for n in range(60)]
    ran: Counter[int] = Counter()
    lock = threading.Lock()

    def run_job(job_id: int, _stop: StopToken) -> None:
        with lock:
            ran[job_id] += 1
        time.sleep(0.01)  # a short job: workers free up one after another
        with core.db.transaction() as session:
            move_job(
                session, job_id, JobState.DONE, allowed=(JobState.QUEUED,), now=core.clock.now()
            )

    claims = CountingClaims(core.db)
    dispatcher = Dispatcher(core.db, run_job, 4, lambda: ["dailies"], core.stop, claims=claims)
    dispatcher.start()
    deadline = time.monotonic() + 30
    while sum(ran.values()) < len(jobs) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # anything handed out twice would run by now
    core.stop.stop("test over")
    assert sorted(ran) == sorted(jobs)
    assert set(ran.values()) == {1}, "no job ran twice"
    assert claims.asked <= len(jobs) // 3, f"asked {claims.asked} times for {len(jobs)} jobs"


def test_the_dispatcher_says_when_its_last_job_ended_and_nothing_else_can_run(core):
    # The daemon closes batches at once then, instead of at the closer's next tick.
    jobs = [core.queue(f"clip{n:02}.mov", 1024) for n in range(6)]
    running: set[int] = set()
    idle_while: list[set[int]] = []  # what was running each time it said so
    lock = threading.Lock()
    release = threading.Event()

    def run_job(job_id: int, _stop: StopToken) -> None:
        with lock:
            running.add(job_id)
        release.wait(10)
        with core.db.transaction() as session:
            move_job(
                session, job_id, JobState.DONE, allowed=(JobState.QUEUED,), now=core.clock.now()
            )
        with lock:
            running.discard(job_id)

    def on_idle() -> None:
        with lock:
            idle_while.append(set(running))

    dispatcher = Dispatcher(core.db, run_job, 2, lambda: ["dailies"], core.stop, on_idle=on_idle)
    dispatcher.start()
    try:
        deadline = time.monotonic() + 10
        while len(running) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)
        assert idle_while == [], "not idle while jobs run"
        release.set()
        while not idle_while and time.monotonic() < deadline + 10:
            time.sleep(0.02)
        time.sleep(0.5)  # no second notice without new work
    finally:
        core.stop.stop("test over")
    assert idle_while == [set()]
    assert all(core.job(job_id).state == JobState.DONE for job_id in jobs)
