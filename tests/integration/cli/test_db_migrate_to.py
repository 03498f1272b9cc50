"""`watchd db migrate-to URL`: a real single-machine state (made by real uploads to the
emulator) moved into an empty PostgreSQL database, then used there."""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from tests.pg import PgServer
from watchd.base.fileversion import Fingerprint, SettledFile
from watchd.cli.main import main
from watchd.daemon.runtime_files import DaemonLock
from watchd.ingest.queueing import BatchRule, enqueue, known_version
from watchd.store.database import Database
from watchd.store.migrate import current_revision, head_revision
from watchd.store.models import Base, Job, JobState, Part
from watchd.store.transitions import move_job

MIB = 1024 * 1024
DAILIES = "Demo Production/Dailies"


@pytest.fixture
def uploaded_state(cli, tmp_path):
    """A state folder holding three files uploaded by `watchd upload` (done, with parts)."""
    state = tmp_path / "state"
    files = [tmp_path / f"clip{n}.mov" for n in range(3)]
    for n, path in enumerate(files):
        path.write_bytes(os.urandom((5 + 3 * n) * MIB))
    rows = cli.json("upload", *map(str, files), "--folder", DAILIES, "--state-dir", str(state))
    assert [r["state"] for r in rows] == ["done"] * 3
    return state


def write_config(tmp_path: Path, state: Path) -> Path:
    key = tmp_path / "api_key"
    key.write_text("demo-api-key\n")
    key.chmod(0o600)
    config = tmp_path / "watchd.yaml"
    settings = {
        "flowcapture": {
            "url": "http://127.0.0.1:9",
            "email": "demo@example.com",
            "api_key_file": str(key),
        },
        "state_dir": str(state),
        "folders": [],
    }
    config.write_text(yaml.safe_dump(settings))
    return config


def sqlite_counts(state: Path) -> dict[str, int]:
    with sqlite3.connect(state / "watchd.db") as raw:
        return {
            table: raw.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            for table in Base.metadata.tables
        }


def test_a_real_state_moves_into_postgresql_is_used_there_and_not_moved_twice(
    uploaded_state, tmp_path, pg_url, capsys
):
    config = write_config(tmp_path, uploaded_state)
    before = sqlite_counts(uploaded_state)
    assert before["jobs"] == 3 and before["parts"] >= 3 and before["batches"] == 1

    code = main(["db", "migrate-to", pg_url, "--config", str(config)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"into {pg_url} (schema {head_revision()}):" in out
    assert f"  jobs: {before['jobs']} rows\n" in out
    assert f"  parts: {before['parts']} rows\n" in out
    assert out.rstrip().endswith(f"  database: {pg_url}")
    assert sqlite_counts(uploaded_state) == before  # the source is left as it was

    db = Database(pg_url)
    try:
        assert current_revision(db.engine) == head_revision()
        with db.reading() as session:
            jobs = session.scalars(select(Job).order_by(Job.id)).all()
            etags = session.scalar(select(func.count(Part.id)).where(Part.etag.is_not(None)))
        assert [job.state for job in jobs] == [JobState.DONE] * 3
        assert all(job.asset_id for job in jobs)
        assert {job.uploaded_at.tzinfo if job.uploaded_at else None for job in jobs} == {UTC}
        assert etags == before["parts"]

        # Store smoke on the moved state: a known version stays known, a new file gets
        # an id past the copied ones (sequences reset), and guarded moves work.
        done = jobs[0]
        with db.reading() as session:
            same = SettledFile(
                done.folder,
                Path(done.path),
                done.relpath,
                Fingerprint(done.device, done.inode, done.size, done.mtime_ns),
            )
            assert known_version(session, same) is not None
        now = datetime.now(UTC)
        fresh = SettledFile(
            done.folder, Path("/drop/new.mov"), "new.mov", Fingerprint(1, 999_999, 10, 1)
        )
        job = enqueue(db, fresh, BatchRule(project_id=done.project_id, template="{folder}"), now)
        assert job is not None and job.id > max(j.id for j in jobs)
        with db.transaction() as session:
            assert move_job(session, job.id, JobState.UPLOADING, allowed={JobState.QUEUED}, now=now)
    finally:
        db.close()

    # Once more into the same database: refused, as it holds rows now; nothing changes.
    assert main(["db", "migrate-to", pg_url, "--config", str(config)]) == 1
    _, err = capsys.readouterr()
    assert "is not empty (table batches has rows)" in err
    db = Database(pg_url)
    try:
        with db.reading() as session:
            assert session.scalar(select(func.count(Job.id))) == 4
    finally:
        db.close()


def test_a_running_daemon_is_refused(tmp_path, pg_server: PgServer, pg_url, capsys):
    state = tmp_path / "state"
    state.mkdir()
    sqlite3.connect(state / "watchd.db").close()
    config = write_config(tmp_path, state)
    lock = DaemonLock(state)
    lock.acquire()
    try:
        code = main(["db", "migrate-to", pg_url, "--config", str(config)])
    finally:
        lock.release()
    _, err = capsys.readouterr()
    assert code == 1
    assert "stop it first" in err
    with pg_server.connect(pg_url.rsplit("/", 1)[1]) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname='public'")
        assert tables.fetchone() == (0,)


def test_a_url_with_a_password_or_not_postgresql_is_refused(tmp_path, capsys):
    state = tmp_path / "state"
    state.mkdir()
    config = write_config(tmp_path, state)
    for url, says in (
        ("postgresql+psycopg://w:hunter2@db/w", "must not contain a password"),
        ("sqlite:////tmp/x.db", "must be a PostgreSQL URL"),
    ):
        assert main(["db", "migrate-to", url, "--config", str(config)]) == 1
        _, err = capsys.readouterr()
        assert says in err and "hunter2" not in err
