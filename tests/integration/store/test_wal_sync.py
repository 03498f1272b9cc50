"""Commits on the writers' connection are synced to disk in groups, outside the write turn."""

from __future__ import annotations

import errno
import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text

from watchd.store.database import Database, DatabaseProblem, sqlite_url
from watchd.store.migrate import upgrade
from watchd.store.models import Batch, BatchState


@pytest.fixture
def db(tmp_path):
    database = Database(sqlite_url(tmp_path))
    upgrade(database.engine)
    yield database
    database.close()


def add_batch(db: Database, name: str) -> None:
    now = datetime.now(UTC)
    with db.transaction() as session:
        session.add(
            Batch(
                folder="f", project_id=1, name=name, state=BatchState.OPEN,
                opened_at=now, last_file_at=now,
            )
        )  # fmt: skip


def batches(db: Database) -> int:
    with db.reading() as session:
        return session.scalar(select(func.count()).select_from(Batch)) or 0


def wait_until(predicate, what: str) -> None:
    deadline = time.monotonic() + 5
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.005)


def test_a_commit_made_during_a_sync_waits_for_the_next_one_which_others_share(db):
    wal = db.wal
    assert wal is not None
    real, gate, calls = wal.fsync, threading.Event(), []

    def gated(fd: int) -> None:
        calls.append(wal.commits)  # the commits written when this sync began
        if len(calls) == 1:
            gate.wait(5)  # a slow disk
        real(fd)

    wal.fsync = gated
    first = threading.Thread(target=add_batch, args=(db, "a"))
    first.start()
    wait_until(lambda: len(calls) == 1, "the first commit's sync began")
    others = [threading.Thread(target=add_batch, args=(db, n)) for n in ("b", "c")]
    for thread in others:
        thread.start()
    wait_until(lambda: wal.commits == 3, "the other two committed meanwhile")
    time.sleep(0.1)
    assert all(t.is_alive() for t in others), "not on disk yet: they wait for a sync"
    assert wal.durable == 0
    gate.set()
    for thread in (first, *others):
        thread.join(5)
    assert calls == [1, 3], "the sync begun before them did not count for them; one did"
    assert wal.fsyncs == 2 and wal.durable == 3
    assert batches(db) == 3


def test_only_the_writers_connection_leaves_the_sync_to_watchd(db):
    with db.transaction() as session:
        assert session.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    with db.reading() as session:
        assert session.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2
    assert db.wal is not None and db.wal.fsyncs == 1 and db.wal.durable == 1


def test_a_failed_sync_fails_that_transaction_and_every_later_one(db):
    wal = db.wal
    assert wal is not None
    real = wal.fsync

    def broken(_fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    wal.fsync = broken
    with pytest.raises(DatabaseProblem, match=r"could not be written to disk \(Input/output"):
        add_batch(db, "a")
    wal.fsync = real
    with pytest.raises(DatabaseProblem, match="may be lost"):
        add_batch(db, "b")  # a later sync that works proves nothing about the lost pages
    assert wal.fsyncs == 0
