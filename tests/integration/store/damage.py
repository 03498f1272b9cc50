"""Real state databases on disk, and the damage disks and people do to them."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from watchd.store.database import DATABASE_FILENAME, Database, sqlite_url
from watchd.store.migrate import upgrade
from watchd.store.models import Batch, BatchState, Job, JobState, Part

PAGE_BYTES = 4096  # SQLite's default page size, which watchd keeps
JOBS_PER_BATCH = 20


def new_job(number: int, batch: Batch | None, folder: str = "dailies", **fields: Any) -> Job:
    """Return a done job for /drop/<number>.mov (three parts), with ``fields`` overriding."""
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "folder": folder,
        "path": f"/drop/{number}.mov",
        "relpath": f"{number}.mov",
        "filename": f"{number}.mov",
        "device": 1,
        "inode": number,
        "size": 300,
        "mtime_ns": number,
        "attempts": 1,
        "uuid": str(uuid.uuid4()),
        "project_id": 1,
        "created_at": now,
        "updated_at": now,
        "uploaded_at": now,
        "upload_id": f"upload-{number}",
        "key": f"key-{number}",
        "part_size": 100,
        "last_error": "padding so that the rows fill many pages " * 5,
        "batch": batch,
        "parts": [Part(number=n, offset=(n - 1) * 100, size=100, etag=f'"{n}"') for n in (1, 2, 3)],
    }
    values.update(fields)
    return Job(**values)


def new_batch(name: str, state: BatchState = BatchState.CLOSED) -> Batch:
    now = datetime.now(UTC)
    return Batch(
        folder="dailies",
        project_id=1,
        name=name,
        state=state,
        opened_at=now,
        last_file_at=now,
        attempts=0,
    )


def make_database(state_dir: Path, jobs: int = 400) -> Path:
    """Create state_dir/watchd.db at the current schema with ``jobs`` done jobs; return its path.

    Every 20 jobs share a closed batch. The database is closed, so it is one file (no -wal).
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    db = Database(sqlite_url(state_dir))
    upgrade(db.engine)
    with db.transaction() as session:
        batch = None
        for number in range(1, jobs + 1):
            if (number - 1) % JOBS_PER_BATCH == 0:
                batch = new_batch(f"B{number // JOBS_PER_BATCH}")
            session.add(new_job(number, batch, state=JobState.DONE))
    db.close()
    return state_dir / DATABASE_FILENAME


def corrupt_middle(path: Path, pages: int = 3) -> None:
    """Overwrite ``pages`` whole pages in the middle of the file with random bytes."""
    size = path.stat().st_size
    middle = (size // 2) - (size // 2) % PAGE_BYTES
    with path.open("r+b") as file:
        file.seek(middle)
        file.write(os.urandom(pages * PAGE_BYTES))


def fill_with_random_bytes(path: Path, size: int = 200_000) -> None:
    path.write_bytes(os.urandom(size))


@contextmanager
def connected(path: Path) -> Iterator[sqlite3.Connection]:
    """Yield a connection to ``path``, committed and closed afterwards (no -wal stays)."""
    with closing(sqlite3.connect(path)) as conn:
        yield conn
        conn.commit()


def rows(path: Path, table: str) -> list[dict[str, Any]]:
    """Return every row of ``table`` by id (the file must be sound)."""
    with connected(path) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY id")]


def quick_check(path: Path) -> list[str]:
    with connected(path) as conn:
        try:
            return [r[0] for r in conn.execute("PRAGMA quick_check")]
        except sqlite3.DatabaseError as exc:
            return [str(exc)]
