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

from watchd.flowcapture.backoff import backoff_seconds
from watchd.flowcapture.errors import (
    AuthenticationError,
    FlowCaptureError,
    NotFoundError,
    UploadNotFoundError,
)
from watchd.flowcapture.redact import redact
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


@dataclass(frozen=True)
class Verdict:
    """How to treat a failure: retry later or not, and the reason to record."""

    retryable: bool
    reason: str


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
    if isinstance(error, AuthenticationError):
        return Verdict(True, f"authentication failed ({error}); check the API key")
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
) -> Recorded | None:
    """Count a failed attempt: WAITING with a next attempt time, or FAILED.

    Returns None, recording nothing, if the job is no longer running (an
    operator cancelled it meanwhile).
    """
    job = session.get_one(Job, job_id)
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
        allowed=RUNNING_STATES,
        now=now,
        attempts=attempts,
        last_error=verdict.reason,
        next_attempt_at=next_at,
    )
    return Recorded(target, attempts, next_at) if won else None
