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
    database = Database(sqlite_url(tmp_path), group_sync=True)
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


def started(target, *args, name: str | None = None) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, name=name, daemon=True)  # (see joined)
    thread.start()
    return thread


def joined(*threads: threading.Thread) -> None:
    for thread in threads:
        thread.join(5)
    assert not any(t.is_alive() for t in threads), "a thread hung"


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
    first = started(add_batch, db, "a")
    wait_until(lambda: len(began) == 1, "the first commit's sync began")
    others = [started(add_batch, db, n) for n in ("b", "c")]
    wait_until(lambda: wal.commits == 4, "the other two committed meanwhile")
    time.sleep(0.1)
    assert all(t.is_alive() for t in others), "not on disk yet: they wait for a sync"
    assert wal.durable == 1
    gate.set()
    joined(first, *others)
    assert began == [2, 4], "the sync begun before them did not count for them; one did"
    assert wal.durable == 4
    assert batches(db) == 4


def test_a_reader_returns_only_once_what_it_may_have_seen_is_on_disk(db):
    wal = group_synced(db)
    gate, began = held_up(wal)
    writer = started(add_batch, db, "a")
    wait_until(lambda: len(began) == 1, "the commit is made and its sync under way")
    seen: list[int] = []
    reader = started(lambda: seen.append(batches(db)))
    time.sleep(0.1)
    assert reader.is_alive() and seen == [], "it saw the commit: it waits for its sync"
    gate.set()
    joined(writer, reader)
    assert seen == [2] and wal.durable == 2 and wal.fsyncs == 2


def test_a_reader_waits_for_a_commit_still_being_made_to_be_made_and_synced(db):
    wal = group_synced(db)
    settle, made = wal.settle, threading.Event()

    def slow_settle() -> None:  # COMMIT done (the row visible), "made" not recorded yet
        made.wait(5)
        settle()

    wal.settle = slow_settle  # type: ignore[method-assign]
    writer = started(add_batch, db, "a")
    wait_until(lambda: wal.commits == 2, "the commit numbered")
    seen: list[int] = []
    reader = started(lambda: seen.append(batches(db)))
    time.sleep(0.1)
    assert reader.is_alive(), "it may have seen commit 2: it waits until it is made and synced"
    made.set()
    joined(writer, reader)
    assert seen == [2] and wal.durable == 2


def test_a_sync_covers_the_commits_made_before_it_not_one_still_being_made(db):
    wal = group_synced(db)
    before = wal.fsyncs
    settle, wait = wal.settle, wal.wait_durable
    a_may_wait, b_may_settle = threading.Event(), threading.Event()

    def late_wait(commit: int | None = None) -> None:
        if threading.current_thread().name == "A":
            a_may_wait.wait(5)  # A's commit is made; its wait starts once B's is numbered
        wait(commit)

    def slow_settle() -> None:
        if threading.current_thread().name == "B":
            b_may_settle.wait(5)  # B's COMMIT done, "made" not recorded yet
        settle()

    wal.wait_durable, wal.settle = late_wait, slow_settle  # type: ignore[method-assign]
    a = started(add_batch, db, "a", name="A")
    wait_until(lambda: wal.commits == 2, "A committed")
    b = started(add_batch, db, "b", name="B")
    wait_until(lambda: wal.commits == 3, "B numbered")
    a_may_wait.set()
    joined(a)
    assert wal.durable == 2, "A's sync began before B's commit was made: it does not cover B"
    b_may_settle.set()
    joined(b)
    assert wal.durable == 3 and wal.fsyncs == before + 2


def test_close_syncs_what_is_still_waiting(db):
    wal = group_synced(db)
    commit = wal.number_commit()  # as a writer does, under the turn ...
    with db.transaction() as session:  # (any commit made: the file has frames to sync)
        session.execute(text("SELECT 1"))
    wal.settle()
    db.close()  # ... before it could wait
    wal.wait_durable(commit)  # synced by close: no error
    assert wal.durable >= commit


def test_only_the_writers_connection_leaves_the_sync_to_watchd(db, tmp_path):
    with db.transaction() as session:
        assert session.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    with db.reading() as session:
        assert session.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2
    assert db.wal is not None and db.wal.fsyncs == 1 and db.wal.durable == 1
    command = Database(sqlite_url(tmp_path))  # a command's few writes: SQLite syncs them
    try:
        with command.transaction() as session:
            assert session.execute(text("PRAGMA synchronous")).scalar() == 2
        assert command.wal is None
    finally:
        command.close()


def test_a_database_reached_through_a_symbolic_link_has_its_real_log_synced(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "watchd.db").symlink_to(real / "x.db")
    database = Database(sqlite_url(tmp_path / "state"), group_sync=True)
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
