"""Finding damage in a real SQLite file, refusing it, and salvaging what it still holds."""

from datetime import UTC, datetime

import pytest

from tests.integration.store.damage import (
    connected,
    corrupt_middle,
    fill_with_random_bytes,
    make_database,
    new_batch,
    new_job,
    quick_check,
    rows,
)
from watchd.store.database import Database, DatabaseDamaged, sqlite_url
from watchd.store.integrity import RecoveryError, examine, move_aside, recover, salvage
from watchd.store.migrate import head_revision, upgrade
from watchd.store.models import BatchState, FileHash, JobState, Receipt

WHEN = datetime(2026, 11, 28, 9, 30, 5)


def upgrade_file(path):
    db = Database(f"sqlite:///{path}")
    try:
        return upgrade(db.engine)
    finally:
        db.close()


def test_a_sound_database_examines_clean_with_its_revision_and_tables(tmp_path):
    path = make_database(tmp_path, jobs=5)
    found = examine(path)
    assert found.sound and found.problems == []
    assert found.revision == head_revision()
    assert {"jobs", "parts", "batches", "alembic_version"} <= set(found.tables)


def test_random_bytes_are_damage_not_a_failure_to_open(tmp_path):
    path = tmp_path / "watchd.db"
    fill_with_random_bytes(path)
    assert examine(path).problems == ["file is not a database"]


def test_overwritten_pages_are_damage(tmp_path):
    path = make_database(tmp_path)
    corrupt_middle(path)
    found = examine(path)
    assert not found.sound


def test_the_full_check_finds_damage_the_quick_check_at_start_misses(tmp_path):
    path = make_database(tmp_path, jobs=5)
    with connected(path) as conn:  # an index that no longer matches its table
        conn.execute("PRAGMA writable_schema=ON")
        conn.execute(
            "UPDATE sqlite_master SET sql = replace(sql, 'inode, size', 'size, inode') "
            "WHERE name = 'ix_jobs_version_by_inode'"
        )
    assert quick_check(path) == ["ok"]
    problems = examine(path).problems
    assert problems and all("missing from index ix_jobs_version_by_inode" in p for p in problems)


@pytest.mark.parametrize("damage", [corrupt_middle, fill_with_random_bytes])
def test_upgrade_refuses_a_damaged_database_naming_it_and_leaves_it_unchanged(tmp_path, damage):
    path = make_database(tmp_path)
    damage(path)
    before = path.read_bytes()
    with pytest.raises(DatabaseDamaged) as refused:
        upgrade_file(path)
    assert str(refused.value).startswith(f"the state database {path} is damaged (")
    assert "`watchd db recover`" in str(refused.value)
    assert path.read_bytes() == before


def test_recover_moves_the_damage_aside_and_keeps_readable_jobs_with_their_ids_and_states(
    tmp_path,
):
    path = make_database(tmp_path)
    original = {job["id"]: job for job in rows(path, "jobs")}
    corrupt_middle(path)
    damaged_bytes = path.read_bytes()

    done = recover(path, WHEN)

    assert done.moved_to == tmp_path / "watchd.db.damaged-20261128-093005"
    assert done.moved_to.read_bytes() == damaged_bytes
    assert examine(path).sound and done.revision == head_revision()
    assert upgrade_file(path) == head_revision()  # and the daemon may start on it
    jobs = rows(path, "jobs")
    salvaged = done.salvaged
    assert 0 < len(jobs) < len(original)
    assert salvaged.copied["jobs"] == len(jobs)
    for job in jobs:
        kept = original[job["id"]]
        assert (job["uuid"], job["state"], job["path"]) == (kept["uuid"], "done", kept["path"])
    assert salvaged.copied["batches"] == len(rows(path, "batches"))
    assert salvaged.copied["parts"] == len(rows(path, "parts"))
    assert {p["job_id"] for p in rows(path, "parts")} <= {j["id"] for j in jobs}
    assert salvaged.unreadable["jobs"] + salvaged.dropped["jobs"] >= len(original) - len(jobs)


def test_recover_of_a_file_of_random_bytes_starts_an_empty_database(tmp_path):
    path = tmp_path / "watchd.db"
    fill_with_random_bytes(path)
    done = recover(path, WHEN)
    assert examine(path).sound
    assert rows(path, "jobs") == [] and not any(done.salvaged.copied.values())
    assert done.moved_to.stat().st_size == 200_000


def test_recover_keeps_the_owner_and_mode_of_the_damaged_file(tmp_path):
    path = make_database(tmp_path, jobs=40)
    path.chmod(0o640)
    corrupt_middle(path, pages=1)
    recover(path, WHEN)
    assert path.stat().st_mode & 0o777 == 0o640
    assert not (tmp_path / "watchd.db.recovering").exists()


def test_moving_aside_never_overwrites_an_earlier_damaged_file(tmp_path):
    for generation in (1, 2, 3):
        (tmp_path / "watchd.db").write_text(f"damaged {generation}")
        (tmp_path / "watchd.db-wal").write_text(f"wal {generation}")
        move_aside(tmp_path / "watchd.db", WHEN)
    base = tmp_path / "watchd.db.damaged-20261128-093005"
    assert base.read_text() == "damaged 1"
    assert (tmp_path / f"{base.name}-2").read_text() == "damaged 2"
    assert (tmp_path / f"{base.name}-3").read_text() == "damaged 3"
    assert (tmp_path / f"{base.name}-3-wal").read_text() == "wal 3"
    assert not (tmp_path / "watchd.db").exists() and not (tmp_path / "watchd.db-wal").exists()


def test_a_damaged_database_from_a_newer_watchd_is_not_recovered(tmp_path):
    path = make_database(tmp_path, jobs=5)
    with connected(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'ffff_from_the_future'")
    with pytest.raises(RecoveryError, match="newer watchd"):
        recover(path, WHEN)
    assert [p.name for p in tmp_path.iterdir()] == ["watchd.db"]


def fresh_target(tmp_path):
    target = tmp_path / "new" / "watchd.db"
    target.parent.mkdir()
    upgrade_file(target)
    return target


def source_database(tmp_path, jobs):
    """A database holding ``jobs`` (built by a function of the session) and nothing else."""
    source = tmp_path / "old"
    source.mkdir()
    db = Database(sqlite_url(source))
    upgrade(db.engine)
    with db.transaction() as session:
        jobs(session)
    db.close()
    return source / "watchd.db"


def test_an_upload_that_lost_some_of_its_parts_starts_again_instead_of_completing_short(tmp_path):
    def jobs(session):
        batch = new_batch("open one", BatchState.OPEN)
        session.add(new_job(1, batch, state=JobState.UPLOADING, uploaded_at=None))
        session.add(new_job(2, batch, state=JobState.UPLOADING, uploaded_at=None))

    source = source_database(tmp_path, jobs)
    with connected(source) as conn:  # what damage would do: one part unreadable
        conn.execute("DELETE FROM parts WHERE job_id = 2 AND number = 2")
    target = fresh_target(tmp_path)

    salvaged = salvage(source, target)

    first, second = rows(target, "jobs")
    assert first["upload_id"] == "upload-1" and len(rows(target, "parts")) == 3
    assert second["state"] == "uploading" and second["upload_id"] is None
    assert second["key"] is None and second["part_size"] is None
    assert salvaged.restarted_uploads == 1 and salvaged.copied["parts"] == 3


def test_a_finished_job_outlives_its_lost_batch_and_an_uploaded_one_is_left_behind(tmp_path):
    def jobs(session):
        batch = new_batch("gone")
        session.add(new_job(1, batch, state=JobState.DONE))
        session.add(new_job(2, batch, state=JobState.UPLOADED))
        session.add(new_job(3, batch, state=JobState.QUEUED, uploaded_at=None, upload_id=None))

    source = source_database(tmp_path, jobs)
    with connected(source) as conn:
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute("DELETE FROM batches")
    target = fresh_target(tmp_path)

    salvaged = salvage(source, target)

    kept = {job["id"]: job for job in rows(target, "jobs")}
    assert sorted(kept) == [1, 3]
    assert kept[1]["state"] == "done" and kept[1]["batch_id"] is None
    assert kept[3]["state"] == "queued" and kept[3]["batch_id"] is None  # joins one when it runs
    assert salvaged.dropped["jobs"] == 1 and salvaged.dropped["parts"] == 3


def test_rows_that_read_as_nonsense_are_left_behind(tmp_path):
    def jobs(session):
        batch = new_batch("b")
        for number in (1, 2, 3):
            session.add(new_job(number, batch, state=JobState.DONE))

    source = source_database(tmp_path, jobs)
    with connected(source) as conn:
        conn.execute("UPDATE jobs SET state = 'zzkq' WHERE id = 1")
        conn.execute("UPDATE jobs SET size = 'twelve' WHERE id = 2")
    target = fresh_target(tmp_path)

    salvaged = salvage(source, target)

    assert [job["id"] for job in rows(target, "jobs")] == [3]
    assert salvaged.dropped["jobs"] == 2


def test_the_custody_hashes_and_receipt_records_of_kept_jobs_and_batches_are_kept(tmp_path):
    def jobs(session):
        kept, gone = new_batch("A001"), new_batch("A002")
        session.add_all(
            [new_job(1, kept, state=JobState.DONE), new_job(2, gone, state=JobState.UPLOADED)]
        )
        session.flush()
        for job_id in (1, 2):
            session.add(
                FileHash(
                    job_id=job_id, size=300, mtime_ns=job_id, hashes='{"xxh64": "0123"}',
                    history_root="/drop/A001", history_relpath=f"{job_id}.mov",
                    verified_format="xxh64", hashed_at=WHEN.replace(tzinfo=UTC),
                )
            )  # fmt: skip
        for batch in (kept, gone):
            session.add(
                Receipt(batch_id=batch.id, state="written", written_at=WHEN.replace(tzinfo=UTC))
            )

    source = source_database(tmp_path, jobs)
    with connected(source) as conn:  # damage took the second batch
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.execute("DELETE FROM batches WHERE name = 'A002'")
    target = fresh_target(tmp_path)

    salvaged = salvage(source, target)

    with connected(target) as conn:
        hashes = conn.execute("SELECT job_id, verified_format FROM file_hashes").fetchall()
        receipts = conn.execute(
            "SELECT b.name, r.state FROM receipts r JOIN batches b ON b.id = r.batch_id"
        ).fetchall()
    assert hashes == [(1, "xxh64")]  # the uploaded job of the lost batch was left behind
    assert receipts == [("A001", "written")]  # so A001 gets no second receipt
    assert salvaged.copied["file_hashes"] == 1 and salvaged.dropped["file_hashes"] == 1
    assert salvaged.copied["receipts"] == 1 and salvaged.dropped["receipts"] == 1
