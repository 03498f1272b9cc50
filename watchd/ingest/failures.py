"""What a failed step means for its job: wait and retry, or fail for good.

Errors are classified by the API client (``retryable``); this module adds the
filesystem's and the daemon's view, and applies the retry policy: exponential
backoff with jitter and a cap, stored on the job row, ``max_attempts`` then
``failed`` with the reason. The retry delay is one rule for jobs and batches.
"""

from __future__ import annotations

import errno
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from watchd.base.clock import CLOCK_SLACK
from watchd.custody.history import CustodyError
from watchd.flowcapture.backoff import backoff_seconds
from watchd.flowcapture.errors import (
    AuthenticationError,
    FlowCaptureError,
    NotFoundError,
    RateLimitedError,
    UploadNotFoundError,
    service_wide,
)
from watchd.flowcapture.redact import redact
from watchd.flowcapture.transport import RETRY_AFTER_MAX_SECONDS
from watchd.store.models import Job, JobState
from watchd.store.transitions import move_job

MAX_ERROR_CHARS = 2000  # longest error text kept on a job row
# The states a worker runs a job in, so the states a failure is recorded from.
RUNNING_STATES = (JobState.QUEUED, JobState.UPLOADING, JobState.INGESTING)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a job is retried."""

    max_attempts: int
    backoff_initial_seconds: float
    backoff_max_seconds: float


SERVICE = "service"  # Flow Capture or the way to it: the key, the network, "slow down"
FOLDER = "folder"  # the drop folder or its archive: unmounted, full
SERVICE_PROBE_SECONDS = 15.0  # a job waiting on the service looks again (unless Retry-After)
FOLDER_PROBE_SECONDS = 5.0  # a job waiting on its folder looks again after this
RETRY_AFTER_SPREAD = 1.2  # waits the service asked for are drawn up to this much longer


@dataclass(frozen=True)
class Verdict:
    """How to treat a failure: retry later or not, the reason to record, and whose it is.

    ``scope`` None: the file's own failure, which spends one of its attempts.
    SERVICE or FOLDER: an outage every file would hit; the job waits without
    spending an attempt and goes again when the outage ends.
    """

    retryable: bool
    reason: str
    scope: str | None = None
    retry_after: float | None = None  # the service asked for this wait (seconds)


class FolderUnavailable(OSError):
    """The drop folder or its archive cannot be used now (unmounted, full): wait for it."""


# OS errors that a later try may not hit: a share that hiccupped, a full disk freed.
_TRANSIENT_ERRNOS = frozenset(
    {errno.EIO, errno.EAGAIN, errno.ETIMEDOUT, errno.ESTALE, errno.ENOSPC, errno.EHOSTDOWN}
)


def judge(error: BaseException, *, ingesting: bool = False) -> Verdict:
    """Return how a job should treat ``error``.

    ``ingesting``: the failure came after the batch closed, where a 404 means
    the asset is still being processed, not that it is gone.
    """
    text = redact(f"{type(error).__name__}: {error}")[:MAX_ERROR_CHARS]
    if isinstance(error, FolderUnavailable):
        return Verdict(True, f"waiting for the folder: {error.strerror}", FOLDER)
    if isinstance(error, CustodyError):  # a checksum mismatch: trying again cannot help
        return Verdict(False, str(error)[:MAX_ERROR_CHARS])
    if isinstance(error, AuthenticationError):
        reason = f"waiting for Flow Capture: authentication failed ({error}); check the API key"
        return Verdict(True, reason, SERVICE)
    if isinstance(error, RateLimitedError):
        reason = f"waiting for Flow Capture: asked to slow down ({error})"
        return Verdict(True, reason[:MAX_ERROR_CHARS], SERVICE, error.retry_after)
    if service_wide(error):
        reason = f"waiting for Flow Capture: {redact(str(error))}"
        return Verdict(True, reason[:MAX_ERROR_CHARS], SERVICE)
    if isinstance(error, UploadNotFoundError):
        return Verdict(True, "Flow Capture no longer knows the upload; it starts over")
    if isinstance(error, NotFoundError) and ingesting:
        return Verdict(True, f"asset not ready yet ({error})")
    if isinstance(error, FlowCaptureError):
        return Verdict(error.retryable, redact(str(error))[:MAX_ERROR_CHARS])
    if isinstance(error, SQLAlchemyError):  # a full disk, a locked or broken database
        return Verdict(True, f"database error: {str(error).splitlines()[0]}")
    if isinstance(error, EOFError):
        return Verdict(True, f"the file was shorter than planned: {error}")
    if isinstance(error, PermissionError):
        return Verdict(False, f"cannot read the file: {error.strerror} ({error.filename})")
    if isinstance(error, OSError):
        return Verdict(error.errno in _TRANSIENT_ERRNOS, text)
    return Verdict(False, f"internal error: {text}")


def retry_delay_seconds(attempts: int, policy: RetryPolicy, rng: random.Random | None) -> float:
    """Return the wait before the next try after ``attempts`` failures (jobs and batches)."""
    return backoff_seconds(
        attempts,
        initial=policy.backoff_initial_seconds,
        cap=policy.backoff_max_seconds,
        rng=rng,
    )


def longest_wait(policy: RetryPolicy) -> timedelta:
    """Return how far off a job's or a batch's next try can be when watchd sets it.

    A next try further off than this is due now: it was set before the system
    clock went back (an RTC in local time corrected by NTP after a boot turns a
    10 s wait into hours; see base/clock.py).
    """
    service = RETRY_AFTER_MAX_SECONDS * RETRY_AFTER_SPREAD
    return timedelta(seconds=max(policy.backoff_max_seconds, service)) + CLOCK_SLACK


@dataclass(frozen=True)
class Recorded:
    """A failed attempt as recorded on its job."""

    state: JobState  # WAITING or FAILED
    attempts: int
    next_attempt_at: datetime | None


def record_failure(
    session: Session,
    job_id: int,
    verdict: Verdict,
    policy: RetryPolicy,
    now: datetime,
    rng: random.Random | None = None,
    running: tuple[JobState, ...] = RUNNING_STATES,
) -> Recorded | None:
    """Count a failed attempt: WAITING with a next attempt time, or FAILED.

    A failure of the service or the folder (``verdict.scope``) spends no
    attempt: the job waits for the outage to end. Returns None, recording
    nothing, if the job is no longer in one of the ``running`` states (an
    operator cancelled it; another node, taking over, moved it on).
    """
    job = session.get_one(Job, job_id)
    if verdict.scope is not None:
        return _wait_on_outage(session, job, verdict, now, rng, running)
    attempts = job.attempts + 1
    if verdict.retryable and attempts < policy.max_attempts:
        next_at: datetime | None = now + timedelta(
            seconds=retry_delay_seconds(attempts, policy, rng)
        )
        target = JobState.WAITING
    else:
        next_at, target = None, JobState.FAILED
    won = move_job(
        session,
        job_id,
        target,
        allowed=running,
        now=now,
        attempts=attempts,
        last_error=verdict.reason,
        next_attempt_at=next_at,
    )
    return Recorded(target, attempts, next_at) if won else None


def _wait_on_outage(
    session: Session,
    job: Job,
    verdict: Verdict,
    now: datetime,
    rng: random.Random | None,
    running: tuple[JobState, ...],
) -> Recorded | None:
    if verdict.retry_after is not None:  # the service said when: then, spread a little
        delay = verdict.retry_after * (rng or random).uniform(1.0, RETRY_AFTER_SPREAD)
    else:
        probe = SERVICE_PROBE_SECONDS if verdict.scope == SERVICE else FOLDER_PROBE_SECONDS
        delay = probe * (rng or random).uniform(0.8, 1.2)
    next_at = now + timedelta(seconds=delay)
    won = move_job(
        session,
        job.id,
        JobState.WAITING,
        allowed=running,
        now=now,
        last_error=verdict.reason,
        next_attempt_at=next_at,
        waiting_on=verdict.scope,
    )
    return Recorded(JobState.WAITING, job.attempts, next_at) if won else None
