"""The store's core operations, the same on SQLite and on PostgreSQL.

Each test runs twice: on a SQLite file and on a fresh PostgreSQL database,
both at the newest schema. What a node does with a job (queue it, move it
through guarded transitions, commit part ETags, batch it, count and list it,
cancel and retry it) must not depend on which database holds it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from watchd.base.fileversion import Fingerprint, SettledFile
from watchd.ingest.queueing import BatchRule, enqueue, queue_in
from watchd.store.database import Database, sqlite_url
from watchd.store.migrate import upgrade
from watchd.store.models import Batch, BatchState, Job, JobState, Part
from watchd.store.operator_actions import CancelOutcome, cancel_job, retry_jobs
from watchd.store.queries import (
    job_counts,
    list_batches,
    list_jobs,
    load_job,
    open_batches,
    part_rows,
    totals,
    uploads_to_abort,
)
from watchd.store.transitions import COMPLETE_NOT_SENT, RESUME, move_job, move_jobs

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
RULE = BatchRule(project_id=42, template="{subdir}")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A Database at the newest schema: a SQLite file, then a PostgreSQL database."""
    if request.param == "postgresql":
        yield request.getfixturevalue("pg_db")
        return
    db = Database(sqlite_url(tmp_path))
    upgrade(db.engine)
    yield db
    db.close()


def settled(name: str, inode: int, size: int = 100, subdir: str = "day1") -> SettledFile:
    return SettledFile(
        folder="dailies",
        path=Path("/drop/dailies") / subdir / name,
        relpath=f"{subdir}/{name}",
        fingerprint=Fingerprint(device=1, inode=inode, size=size, mtime_ns=inode * 10),
    )


def queue(db: Database, *files: SettledFile) -> list[int]:
    with db.transaction() as session:
        queued = queue_in(session, list(files), RULE, NOW)
    return [q.job_id for q in queued if q is not None]


def test_a_settled_file_is_queued_once_in_its_open_batch(store):
    job = enqueue(store, settled("a.mov", 1), RULE, NOW)
    assert job is not None and job.state == JobState.QUEUED
    assert job.batch is not None and job.batch.name == "day1"
    assert enqueue(store, settled("a.mov", 1), RULE, NOW) is None  # same version: known
    more = queue(store, settled("b.mov", 2), settled("c.mov", 3, subdir="day2"))
    assert len(more) == 2
    with store.reading() as session:
        assert job_counts(session)["queued"] == 3
        batches = {row["name"]: row["files"] for row in open_batches(session)}
        loaded = load_job(session, job.id)
    assert batches == {"day1": 2, "day2": 1}
    assert loaded.created_at == NOW  # aware UTC back from either database
    assert loaded.created_at.tzinfo is UTC


def test_a_name_that_is_not_utf8_round_trips(store, caplog):
    # The "odd name" warning carries the raw name; a captured record with a lone
    # surrogate cannot be sent back from an xdist worker (the daemon's handlers escape it).
    caplog.set_level(logging.ERROR, logger="watchd.ingest.queueing")
    name = os.fsdecode(b"take\xff1.mov")
    [job_id] = queue(store, settled(name, 7))
    with store.reading() as session:
        job = session.get_one(Job, job_id)
    assert job.path == f"/drop/dailies/day1/{name}"
    assert job.relpath == f"day1/{name}"


def test_a_real_name_that_looks_like_the_raw_marker_stays_itself(store):
    name = "\uffffraw64:dGFrZQ==.mov"
    [job_id] = queue(store, settled(name, 8))
    with store.reading() as session:
        job = session.get_one(Job, job_id)
    assert job.relpath == f"day1/{name}"


def test_guarded_moves_win_once_and_refuse_the_wrong_state(store):
    [job_id] = queue(store, settled("a.mov", 1))
    with store.transaction() as session:
        allowed = {JobState.QUEUED}
        assert move_job(session, job_id, JobState.UPLOADING, allowed=allowed, now=NOW)
        assert not move_job(session, job_id, JobState.UPLOADING, allowed=allowed, now=NOW)
    later = NOW + timedelta(minutes=5)
    with store.transaction() as session:
        assert move_job(
            session,
            job_id,
            JobState.WAITING,
            allowed={JobState.UPLOADING},
            now=NOW,
            next_attempt_at=later,
            attempts=1,
            last_error="timeout",
        )
    with store.transaction() as session:  # back in line: the resume state is computed in SQL
        assert move_job(session, job_id, RESUME, allowed={JobState.WAITING}, now=NOW)
        job = session.get_one(Job, job_id)
        assert job.state == JobState.QUEUED and job.next_attempt_at is None
        assert move_job(session, job_id, JobState.UPLOADING, allowed={JobState.QUEUED}, now=NOW)
        assert move_job(
            session,
            job_id,
            None,
            allowed={JobState.UPLOADING},
            now=NOW,
            when=COMPLETE_NOT_SENT,
            complete_sent_at=NOW,
        )
        assert not move_job(
            session,
            job_id,
            JobState.CANCELLED,
            allowed={JobState.UPLOADING},
            now=NOW,
            when=COMPLETE_NOT_SENT,
        )
        assert move_job(session, job_id, JobState.UPLOADED, allowed={JobState.UPLOADING}, now=NOW)
    with store.reading() as session:
        job = session.get_one(Job, job_id)
    assert (job.state, job.attempts, job.uploaded_at) == (JobState.UPLOADED, 1, NOW)


def test_moving_many_jobs_counts_only_those_in_an_allowed_state(store):
    ids = queue(store, *(settled(f"{n}.mov", n) for n in range(1, 6)))
    with store.transaction() as session:
        move_job(session, ids[0], JobState.UPLOADING, allowed={JobState.QUEUED}, now=NOW)
        moved = move_jobs(
            session,
            JobState.FAILED,
            allowed={JobState.QUEUED},
            now=NOW,
            where=Job.id.in_(ids),
            last_error="gone",
        )
    assert moved == 4
    with store.reading() as session:
        counts = job_counts(session)
        failed = list_jobs(session, state="failed")
    assert (counts["failed"], counts["uploading"], counts["queued"]) == (4, 1, 0)
    assert sorted(row["job"] for row in failed) == sorted(ids[1:])


def test_part_etags_are_committed_and_read_back_in_part_order(store):
    [job_id] = queue(store, settled("big.mov", 1, size=30))
    with store.transaction() as session:
        for number in (3, 1, 2):
            session.add(Part(job_id=job_id, number=number, offset=(number - 1) * 10, size=10))
    with store.transaction() as session:
        part = session.scalars(select(Part).where(Part.job_id == job_id, Part.number == 2)).one()
        part.etag, part.md5, part.done_at = '"etag-2"', "0" * 32, NOW
    with store.reading() as session:
        rows = part_rows(session, job_id)
        assert totals(session)["parts_uploaded"] == 1
    assert rows == [(1, 0, 10, None), (2, 10, 10, '"etag-2"'), (3, 20, 10, None)]
    with pytest.raises(IntegrityError), store.transaction() as session:
        session.add(Part(job_id=job_id, number=2, offset=10, size=10))


def test_deleting_a_job_takes_its_parts_with_it(store):
    [job_id] = queue(store, settled("a.mov", 1))
    with store.transaction() as session:
        session.add(Part(job_id=job_id, number=1, offset=0, size=100))
    with store.transaction() as session:
        session.delete(session.get_one(Job, job_id))
    with store.reading() as session:
        assert session.scalars(select(Part)).all() == []


def test_cancel_and_retry_as_an_operator(store):
    ids = queue(store, settled("a.mov", 1), settled("b.mov", 2))
    with store.transaction() as session:
        session.get_one(Job, ids[1]).upload_id = "upload-b"
        assert cancel_job(session, ids[1], NOW).outcome == CancelOutcome.CANCELLED
        assert uploads_to_abort(session) == 1
    with store.transaction() as session:
        retried = retry_jobs(session, [ids[0], ids[1]], NOW)
    assert retried.retried == [ids[1]]
    assert ids[0] in retried.refused  # queued: nothing to retry
    with store.reading() as session:
        assert job_counts(session)["queued"] == 2


def test_a_batch_closes_and_is_listed_with_its_files(store):
    queue(store, settled("a.mov", 1), settled("b.mov", 2))
    with store.transaction() as session:
        batch = session.scalars(select(Batch)).one()
        batch.state, batch.closed_at = BatchState.CLOSED, NOW
    with store.reading() as session:
        assert open_batches(session) == []
        [row] = list_batches(session)
        figures = totals(session)
    assert (row["state"], row["files"], row["closed_at"]) == (
        "closed",
        2,
        NOW.isoformat("T", "seconds"),
    )
    assert figures["batches"]["closed"] == 1
    assert figures["jobs"]["queued"] == 2


def test_threads_racing_for_the_same_jobs_each_win_a_job_once(store):
    ids = queue(store, *(settled(f"{n}.mov", n) for n in range(1, 41)))
    wins: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def claimer() -> None:
        try:
            start.wait()
            for job_id in ids:
                with store.transaction() as session:
                    if move_job(
                        session, job_id, JobState.UPLOADING, allowed={JobState.QUEUED}, now=NOW
                    ):
                        wins.append(job_id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=claimer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(wins) == sorted(ids)
    with store.reading() as session:
        assert job_counts(session)["uploading"] == 40
