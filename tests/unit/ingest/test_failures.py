import errno
import random
from datetime import UTC, datetime

from sqlalchemy.exc import OperationalError

from watchd.flowcapture.errors import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    ServerError,
    UploadNotFoundError,
)
from watchd.ingest.failures import RetryPolicy, apply_failure, judge
from watchd.store.models import Job, JobState

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=3, backoff_initial_seconds=10, backoff_max_seconds=60)


def test_verdicts():
    assert judge(ServerError("boom", status=503)).retryable
    assert not judge(BadRequestError("bad", status=400)).retryable
    assert judge(AuthenticationError("refused")).retryable  # fixing the key resumes the queue
    assert judge(UploadNotFoundError("gone")).retryable  # starts over
    assert not judge(NotFoundError("no folder")).retryable
    assert judge(NotFoundError("not ready"), ingesting=True).retryable
    assert judge(OSError(errno.EIO, "I/O error")).retryable
    assert not judge(PermissionError(errno.EACCES, "denied", "/drop/a.mov")).retryable
    assert judge(OperationalError("INSERT", {}, Exception("database or disk is full"))).retryable
    assert not judge(RuntimeError("bug")).retryable


def test_retryable_failures_wait_then_fail_after_max_attempts():
    job = Job(attempts=0, state=JobState.UPLOADING)
    rng = random.Random(1)
    for attempt in (1, 2):
        apply_failure(job, judge(ServerError("x", status=500)), POLICY, NOW, rng)
        assert job.state == JobState.WAITING
        assert job.attempts == attempt
        assert job.next_attempt_at is not None and job.next_attempt_at > NOW
    apply_failure(job, judge(ServerError("x", status=500)), POLICY, NOW, rng)
    assert job.state == JobState.FAILED
    assert job.finished_at == NOW
    assert job.last_error and "x" in job.last_error


def test_a_permanent_failure_fails_at_once_with_its_reason():
    job = Job(attempts=0, state=JobState.UPLOADING)
    apply_failure(job, judge(BadRequestError("filename missing", status=400)), POLICY, NOW)
    assert job.state == JobState.FAILED
    assert job.last_error is not None and "filename missing" in job.last_error
