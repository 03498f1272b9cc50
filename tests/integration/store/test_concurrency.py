import threading
import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select

from watchd.store.database import Database, sqlite_url
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
