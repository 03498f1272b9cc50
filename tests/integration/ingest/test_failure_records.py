"""Failed attempts recorded on real job rows through the guarded moves."""

import random
from datetime import UTC, datetime
from pathlib import Path

from watchd.base.fileversion import Fingerprint, SettledFile
from watchd.flowcapture.errors import BadRequestError, ServerError
from watchd.ingest.failures import RetryPolicy, judge, record_failure
from watchd.ingest.queueing import BatchRule, enqueue
from watchd.store.models import Job, JobState
from watchd.store.operator_actions import CancelOutcome, cancel_job
from watchd.store.transitions import move_job

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=3, backoff_initial_seconds=10, backoff_max_seconds=60)


def uploading_job(db):
    file = SettledFile("dailies", Path("/drop/a.mov"), "a.mov", Fingerprint(1, 2, 3, 4))
    job = enqueue(db, file, BatchRule(project_id=7, template="x"), NOW)
    assert job is not None
    with db.transaction() as session:
        assert move_job(session, job.id, JobState.UPLOADING, allowed=[JobState.QUEUED], now=NOW)
    return job.id


def fail(db, job_id, error, rng=None):
    with db.transaction() as session:
        return record_failure(session, job_id, judge(error), POLICY, NOW, rng)


def row(db, job_id):
    with db.reading() as session:
        return session.get_one(Job, job_id)


def test_retryable_failures_wait_then_fail_after_max_attempts(db):
    job_id = uploading_job(db)
    rng = random.Random(1)
    for attempt in (1, 2):
        recorded = fail(db, job_id, ServerError("x", status=500), rng)
        assert recorded is not None and recorded.state == JobState.WAITING
        job = row(db, job_id)
        assert job.state == JobState.WAITING and job.attempts == attempt
        assert job.next_attempt_at is not None and job.next_attempt_at > NOW
        with db.transaction() as session:
            move_job(session, job_id, JobState.UPLOADING, allowed=[JobState.WAITING], now=NOW)
    fail(db, job_id, ServerError("x", status=500), rng)
    job = row(db, job_id)
    assert job.state == JobState.FAILED
    assert job.finished_at == NOW and job.next_attempt_at is None
    assert job.last_error and "x" in job.last_error


def test_a_permanent_failure_fails_at_once_with_its_reason(db):
    job_id = uploading_job(db)
    fail(db, job_id, BadRequestError("filename missing", status=400))
    job = row(db, job_id)
    assert job.state == JobState.FAILED
    assert job.last_error is not None and "filename missing" in job.last_error


def test_a_failure_of_a_job_cancelled_meanwhile_records_nothing(db):
    job_id = uploading_job(db)
    with db.transaction() as session:
        assert cancel_job(session, job_id, NOW).outcome == CancelOutcome.CANCELLED
    assert fail(db, job_id, ServerError("x", status=500)) is None
    job = row(db, job_id)
    assert job.state == JobState.CANCELLED and job.attempts == 0
