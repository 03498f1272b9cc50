"""What a failed step means for its job: wait and retry, or fail for good.

Errors are classified by the API client (``retryable``); this module adds the
filesystem's and the daemon's view, and applies the retry policy: exponential
backoff with jitter and a cap, stored on the job row, ``max_attempts`` then
``failed`` with the reason.
"""

from __future__ import annotations

import errno
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from watchd.flowcapture.backoff import backoff_seconds
from watchd.flowcapture.errors import (
    AuthenticationError,
    FlowCaptureError,
    NotFoundError,
    UploadNotFoundError,
)
from watchd.flowcapture.redact import redact
from watchd.store.models import Job, JobState

MAX_ERROR_CHARS = 2000  # longest error text kept on a job row


class UploadStopped(Exception):
    """The daemon is stopping: the job stays where it is and resumes at the next start."""


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


def apply_failure(
    job: Job,
    verdict: Verdict,
    policy: RetryPolicy,
    now: datetime,
    rng: random.Random | None = None,
) -> None:
    """Record a failed attempt on ``job``: WAITING with a next attempt time, or FAILED."""
    job.attempts += 1
    job.last_error = verdict.reason
    job.updated_at = now
    if verdict.retryable and job.attempts < policy.max_attempts:
        delay = backoff_seconds(
            job.attempts,
            initial=policy.backoff_initial_seconds,
            cap=policy.backoff_max_seconds,
            rng=rng,
        )
        job.state = JobState.WAITING
        job.next_attempt_at = now + timedelta(seconds=delay)
    else:
        job.state = JobState.FAILED
        job.next_attempt_at = None
        job.finished_at = now
