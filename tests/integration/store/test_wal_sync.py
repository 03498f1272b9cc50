"""Commits on the writers' connection are synced to disk in groups, outside the write turn,
and nobody acts on a commit before it is on disk."""

from __future__ import annotations

import errno
import os
import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text

from watchd.store.database import Database, DatabaseProblem, sqlite_url
from watchd.store.migrate import upgrade
from watchd.store.models import Batch, BatchState
from watchd.store.wal_sync import WalSync


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


def group_synced(db: Database) -> WalSync:
    add_batch(db, "first")  # sets the writers' connection up
    assert db.wal is not None
    return db.wal


def held_up(wal: WalSync) -> tuple[threading.Event, list[int]]:
    """Hold the next sync of ``wal`` until the event is set; record the commits made when
    each sync began."""
    real, gate, began = wal.fsync, threading.Event(), []

    def gated(fd: int) -> None:
        began.append(wal.commits)
        if len(began) == 1:
            gate.wait(5)  # a slow disk
        real(fd)

    wal.fsync = gated
    return gate, began


def test_a_commit_made_during_a_sync_waits_for_the_next_one_which_others_share(db):
    wal = group_synced(db)
    gate, began = held_up(wal)
    first = threading.Thread(target=add_batch, args=(db, "a"))
    first.start()
    wait_until(lambda: len(began) == 1, "the first commit's sync began")
    others = [threading.Thread(target=add_batch, args=(db, n)) for n in ("b", "c")]
    for thread in others:
        thread.start()
    wait_until(lambda: wal.commits == 4, "the other two committed meanwhile")
    time.sleep(0.1)
    assert all(t.is_alive() for t in others), "not on disk yet: they wait for a sync"
    assert wal.durable == 1
    gate.set()
    for thread in (first, *others):
        thread.join(5)
    assert began == [2, 4], "the sync begun before them did not count for them; one did"
    assert wal.durable == 4
    assert batches(db) == 4


def test_a_reader_returns_only_once_what_it_may_have_seen_is_on_disk(db):
    wal = group_synced(db)
    gate, began = held_up(wal)
    writer = threading.Thread(target=add_batch, args=(db, "a"))
    writer.start()
    wait_until(lambda: len(began) == 1, "the commit is made and its sync under way")
    seen: list[int] = []
    reader = threading.Thread(target=lambda: seen.append(batches(db)))
    reader.start()
    time.sleep(0.1)
    assert reader.is_alive() and seen == [], "it saw the commit: it waits for its sync"
    gate.set()
    for thread in (writer, reader):
        thread.join(5)
    assert seen == [2] and wal.durable == 2 and wal.fsyncs == 2


def test_only_the_writers_connection_leaves_the_sync_to_watchd(db):
    with db.transaction() as session:
        assert session.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    with db.reading() as session:
        assert session.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2
    assert db.wal is not None and db.wal.fsyncs == 1 and db.wal.durable == 1


def test_a_database_reached_through_a_symbolic_link_has_its_real_log_synced(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "watchd.db").symlink_to(real / "x.db")
    database = Database(sqlite_url(tmp_path / "state"))
    try:
        upgrade(database.engine)
        add_batch(database, "a")
        assert database.wal is not None and database.wal.path == real / "x.db-wal"
        assert database.wal.fsyncs == 1
    finally:
        database.close()


def test_a_failed_sync_fails_that_transaction_and_refuses_every_later_commit(db):
    wal = group_synced(db)

    def broken(_fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    real, wal.fsync = wal.fsync, broken
    with pytest.raises(DatabaseProblem, match=r"could not be written to disk \(Input/output"):
        add_batch(db, "a")
    wal.fsync = real
    with pytest.raises(DatabaseProblem, match="nothing more is committed until watchd is"):
        add_batch(db, "b")  # a later sync that works proves nothing about the lost pages
    assert wal.commits == 2, "b was not committed at all"


def test_a_log_replaced_under_the_open_database_is_an_error_not_a_silent_success(db):
    wal = group_synced(db)
    os.rename(wal.path, wal.path.with_name("moved-wal"))
    with pytest.raises(DatabaseProblem, match="replaced"):
        add_batch(db, "a")
