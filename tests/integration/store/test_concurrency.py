import sqlite3
import threading
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from watchd.store import database as database_module
from watchd.store.database import DATABASE_FILENAME, Database, sqlite_url
from watchd.store.migrate import upgrade
from watchd.store.models import Job, JobState, Part

THREADS = 12
WRITES_PER_THREAD = 40


def new_job(number: int) -> Job:
    now = datetime.now(UTC)
    return Job(
        folder="dailies",
        path=f"/drop/{number}.mov",
        relpath=f"{number}.mov",
        filename=f"{number}.mov",
        device=1,
        inode=number,
        size=100,
        mtime_ns=number,
        state=JobState.QUEUED,
        attempts=0,
        uuid=str(uuid.uuid4()),
        project_id=1,
        created_at=now,
        updated_at=now,
    )


def test_many_writer_threads_never_see_database_is_locked(tmp_path):
    db = Database(sqlite_url(tmp_path))
    upgrade(db.engine)
    with db.transaction() as session:
        session.add(new_job(0))
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def writer(worker: int) -> None:
        try:
            start.wait()
            for n in range(WRITES_PER_THREAD):
                with db.transaction() as session:
                    # read-modify-write: the pattern that deadlocks under deferred BEGIN
                    job = session.scalars(select(Job).where(Job.inode == 0)).one()
                    job.attempts = job.attempts + 1
                    session.add(Part(job=job, number=worker * 1000 + n, offset=0, size=1))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    readers_saw = []
    for _ in range(20):
        with db.reading() as session:
            readers_saw.append(session.scalar(select(func.count(Part.id))) or 0)
    for thread in threads:
        thread.join()

    assert errors == []
    with db.reading() as session:
        job = session.scalars(select(Job).where(Job.inode == 0)).one()
        assert job.attempts == THREADS * WRITES_PER_THREAD  # no lost update
        assert session.scalar(select(func.count(Part.id))) == THREADS * WRITES_PER_THREAD
    assert readers_saw == sorted(readers_saw)
    db.close()


def test_timestamps_come_back_as_aware_utc(tmp_path):
    db = Database(sqlite_url(tmp_path))
    upgrade(db.engine)
    with db.transaction() as session:
        session.add(new_job(5))
    with db.reading() as session:
        job = session.scalars(select(Job)).one()
    assert job.created_at.tzinfo is UTC
    db.close()


def test_a_write_refused_while_another_process_holds_the_lock_leaves_later_writes_whole(
    tmp_path, monkeypatch
):
    # The writers share one connection: a BEGIN that failed must not leave it inside a
    # transaction that the next writer's session would join and never commit.
    monkeypatch.setattr(database_module, "SQLITE_BUSY_TIMEOUT_MS", 100)
    db = Database(sqlite_url(tmp_path))
    upgrade(db.engine)
    other = sqlite3.connect(tmp_path / DATABASE_FILENAME, isolation_level=None, timeout=0.1)
    other.execute("BEGIN IMMEDIATE")  # another process writing (e.g. `watchd retry`)
    with pytest.raises(OperationalError, match="database is locked"):
        with db.transaction() as session:
            session.add(new_job(1))
    other.execute("ROLLBACK")
    with db.transaction() as session:
        session.add(new_job(2))
    # Committed, not merely pending on the shared connection: another connection sees it.
    rows = other.execute("SELECT inode FROM jobs ORDER BY inode").fetchall()
    assert rows == [(2,)]
    db.close()
    other.close()
