"""Periodic work on APScheduler 3, configured against its known traps.

- ``coalesce``: runs missed while the machine slept collapse into one.
- ``misfire_grace_time`` generous: a run that starts late (busy machine) is
  still run rather than silently skipped (APScheduler's default is 1 s).
- ``max_instances=1``: a slow run never overlaps the next; every job here is
  bounded (API calls have timeouts, rescans only raise a flag), so a run
  cannot hang for ever and block its successors.
- Each job is wrapped so an exception is logged with its traceback and the
  schedule carries on.
- Next runs are wall-clock times: after the system clock is set back,
  :func:`restart_intervals` starts every timer again from now (else the
  scheduler would wait out the jump).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)

MISFIRE_GRACE_SECONDS = 300  # run a late job if it is no later than this
SCHEDULER_THREADS = 4  # periodic jobs that may run at the same time


def make_scheduler() -> BackgroundScheduler:
    """Return a stopped scheduler with watchd's job defaults."""
    return BackgroundScheduler(
        executors={"default": ThreadPoolExecutor(SCHEDULER_THREADS)},
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": MISFIRE_GRACE_SECONDS,
        },
        timezone="UTC",
    )


def every(
    scheduler: BackgroundScheduler,
    seconds: float,
    name: str,
    func: Callable[[], object],
    *,
    first_in: timedelta | None = None,
) -> None:
    """Run ``func`` every ``seconds``, logging (not raising) its failures.

    The first run is ``seconds`` from now, or ``first_in`` from now when given.
    """

    def guarded() -> None:
        try:
            func()
        except Exception:
            log.exception("periodic job %s failed; it runs again in %.0fs", name, seconds)

    # APScheduler reads an explicit next_run_time=None as "paused": pass it only when set.
    first = {} if first_in is None else {"next_run_time": datetime.now(UTC) + first_in}
    scheduler.add_job(
        guarded, "interval", seconds=seconds, id=name, name=name, replace_existing=True, **first
    )


def restart_intervals(scheduler: BackgroundScheduler) -> None:
    """Run every interval job next one interval from now (the clock was set back)."""
    for job in scheduler.get_jobs():
        if isinstance(job.trigger, IntervalTrigger):
            seconds = job.trigger.interval.total_seconds()
            job.reschedule(IntervalTrigger(seconds=seconds, timezone=UTC))
