"""Checking a SQLite state database, and starting a new one from what a damaged one holds.

``watchd db check`` and ``watchd db recover`` are built on these. Both read
the file with the sqlite3 module directly, not through the engine: the
engine's set-up writes (journal mode), and a damaged file must only be read.
Salvaging copies rows as they were (state included, so done files are not
sent again); it moves no job from one state to another.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Enum

from watchd.store.database import DAMAGE_ERRORS, Database, DatabaseProblem, database_problem
from watchd.store.migrate import head_revision, known_revisions, problem_lines, upgrade
from watchd.store.models import TERMINAL_JOB_STATES, Base

INTEGRITY_CHECK_MAX_PROBLEMS = 100  # integrity_check stops after this many
SALVAGED_TABLES = ("batches", "jobs", "parts", "file_hashes", "receipts")  # foreign-key order
# Each table's key: rows are read in its order, one at a time past unreadable spots.
KEY_COLUMNS = {"file_hashes": "job_id", "receipts": "batch_id"}  # the others: id
MAX_PROBES_PER_GAP = 1_000_000  # ids tried one by one past an unreadable spot, at most
PROBES_PAST_UNKNOWN_END = 10_000  # ... when the highest id cannot be read
WAL_SUFFIXES = ("-wal", "-shm")
RECOVERING_SUFFIX = ".recovering"  # the new database, made beside the damaged one
# Left beside a recovered database: at its next start the daemon looks for unknown files
# in Flow Capture before uploading them (some jobs may not have been salvaged).
RECOVERED_SUFFIX = ".recovered"
UPLOAD_COLUMNS = ("upload_id", "key", "part_size", "complete_sent_at")  # a job's upload
TERMINAL_STATES = frozenset(state.value for state in TERMINAL_JOB_STATES)


@dataclass(frozen=True)
class Examination:
    """What SQLite says of a database file: its problems (none: sound) and schema."""

    problems: list[str]
    revision: str | None  # None: none recorded, or unreadable
    tables: dict[str, set[str]]  # the tables and their columns (when sound)

    @property
    def sound(self) -> bool:
        return not self.problems


@contextmanager
def _reading(path: Path) -> Iterator[sqlite3.Connection]:
    """Yield a read-only connection to ``path``; removes the -wal and -shm it had to create.

    Read-only, so that not even a checkpoint writes to a damaged file.
    """
    existed = {suffix for suffix in WAL_SUFFIXES if Path(f"{path}{suffix}").exists()}
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            yield conn
    finally:
        for suffix in set(WAL_SUFFIXES) - existed:
            created = Path(f"{path}{suffix}")
            if suffix == "-shm" or (created.exists() and created.stat().st_size == 0):
                created.unlink(missing_ok=True)


def _rw_uri(path: Path) -> str:
    return f"{path.resolve().as_uri()}?mode=rw"  # never creates the file


def _is_damage(exc: sqlite3.Error) -> bool:
    name = getattr(exc, "sqlite_errorname", "")
    return name.startswith(DAMAGE_ERRORS) or "malformed" in str(exc)


def examine(path: Path) -> Examination:
    """Run SQLite's ``PRAGMA integrity_check`` on the database at ``path``.

    Returns its problems (SQLite's own words), schema revision and tables. Raises
    DatabaseProblem if the file cannot be opened for another reason than
    damage (a folder, no permission).
    """
    # Read-write (nothing is written) so that closing removes the -wal and -shm files
    # again: left behind by `sudo watchd db check`, they would belong to root.
    try:
        with closing(sqlite3.connect(_rw_uri(path), uri=True)) as conn:
            rows = conn.execute(f"PRAGMA integrity_check({INTEGRITY_CHECK_MAX_PROBLEMS})")
            problems = problem_lines(row[0] for row in rows)
            tables = {} if problems else _tables(conn)
            return Examination(problems, _revision(conn), tables)
    except sqlite3.Error as exc:
        if _is_damage(exc):
            return Examination([str(exc)], None, {})
        raise database_problem(exc, f"sqlite:///{path}") from exc


def _revision(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return None  # no such table (a new database), or unreadable
    return str(row[0]) if row else None


def _tables(conn: sqlite3.Connection) -> dict[str, set[str]]:
    found = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {str(name): set(_columns(conn, str(name))) for (name,) in found}


def _columns(conn: sqlite3.Connection, table: str) -> dict[str, tuple[str, bool]]:
    """Return ``table``'s columns: name -> (declared type, NOT NULL); empty if no such table."""
    rows = conn.execute(f'PRAGMA table_info("{table}")').fetchall()
    return {str(row[1]): (str(row[2]).upper(), bool(row[3]) or bool(row[5])) for row in rows}


# --- recovering -------------------------------------------------------------------------


@dataclass
class Salvaged:
    """What a recovery copied from the damaged file into the new database."""

    copied: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SALVAGED_TABLES, 0))
    unreadable: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SALVAGED_TABLES, 0))
    dropped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SALVAGED_TABLES, 0))
    restarted_uploads: int = 0  # jobs whose parts were not all readable: their upload restarts
    end_unread: set[str] = field(default_factory=set)  # tables read up to a spot, not to the end


@dataclass(frozen=True)
class Recovered:
    """Where the damaged file went, and what was salvaged into the new one."""

    moved_to: Path
    revision: str
    salvaged: Salvaged


class RecoveryError(Exception):
    """A recovery was refused or failed; the message says what became of the files."""


def recover(path: Path, now: datetime) -> Recovered:
    """Move the damaged database at ``path`` aside and start a new one with what it still holds.

    The new database is made beside it first and takes its place only when
    complete, with its owner and mode. Raises RecoveryError (saying what was
    changed: nothing, unless the final swap failed) if a newer watchd wrote the
    file, or if the new database cannot be written or put in place.
    """
    revision = _readable_revision(path)
    if revision is not None and revision not in known_revisions():
        raise RecoveryError(
            f"the damaged database {path} has schema revision {revision}, which a newer watchd "
            "wrote; recover it with that watchd, or restore it from a backup; nothing was changed"
        )
    owner = path.stat()
    fresh = path.with_name(f"{path.name}{RECOVERING_SUFFIX}")
    _remove(fresh)  # left by a recovery that was interrupted
    try:
        # Copy into the damaged file's own schema, then upgrade: rows keep their meaning.
        url = f"sqlite:///{fresh.resolve()}"
        _create(url, revision or head_revision())
        salvaged = salvage(path, fresh)
        _create(url, "head")
        if os.geteuid() == 0:
            os.chown(fresh, owner.st_uid, owner.st_gid)  # the daemon's user must write it
        fresh.chmod(owner.st_mode & 0o7777)
    except (OSError, sqlite3.Error, DatabaseProblem) as exc:
        _remove(fresh)
        raise RecoveryError(
            f"no new database could be made beside {path} ({_first_line(exc)}); nothing was "
            "changed: fix that and run `watchd db recover` again"
        ) from exc
    try:
        moved_to = move_aside(path, now)
        fresh.rename(path)
        path.with_name(f"{path.name}{RECOVERED_SUFFIX}").write_text(f"{moved_to}\n")
    except OSError as exc:
        raise RecoveryError(
            f"cannot put the new database {fresh} in place of {path} ({_first_line(exc)}); "
            f"this user needs write access to {path.parent}"
        ) from exc
    return Recovered(moved_to, head_revision(), salvaged)


def _remove(path: Path) -> None:
    for suffix in ("", *WAL_SUFFIXES):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _readable_revision(path: Path) -> str | None:
    """Return the schema revision recorded in a damaged file, if it can be read."""
    try:
        with _reading(path) as conn:
            return _revision(conn)
    except sqlite3.Error:
        return None


def _first_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _create(url: str, revision: str) -> None:
    db = Database(url)
    try:
        upgrade(db.engine, revision)
    finally:
        db.close()  # the last connection checkpoints, so no -wal or -shm stays behind


def move_aside(path: Path, now: datetime) -> Path:
    """Rename ``path`` (and its -wal and -shm) to ``<name>.damaged-YYYYmmdd-HHMMSS``.

    Never overwrites: a name taken already gets ``-2``, ``-3``... Returns the new path.
    """
    base = path.with_name(f"{path.name}.damaged-{now:%Y%m%d-%H%M%S}")
    candidate, number = base, 1
    while any(Path(f"{candidate}{suffix}").exists() for suffix in ("", *WAL_SUFFIXES)):
        number += 1
        candidate = base.with_name(f"{base.name}-{number}")
    # The main file first: its -wal holds commits it needs, and goes with it.
    for suffix in ("", *WAL_SUFFIXES):
        source = Path(f"{path}{suffix}")
        if source.exists():
            source.rename(f"{candidate}{suffix}")
    return candidate


def salvage(damaged: Path, target: Path) -> Salvaged:
    """Copy the rows of jobs, parts and batches SQLite can still read from ``damaged``,
    with the custody hashes of those jobs and the receipts of those batches.

    Rows that cannot be read, or read as nonsense, are left behind; so are
    unfinished jobs that Flow Capture had and whose batch was lost (the rescan
    queues their files again), and hashes or receipts whose job or batch was
    lost. Returns the counts.
    """
    result = Salvaged()
    with (
        _reading(damaged) as source,
        closing(sqlite3.connect(target)) as sink,
    ):
        sink.execute("PRAGMA foreign_keys=ON")
        for table in SALVAGED_TABLES:
            _copy_table(source, sink, table, result)
        _restart_incomplete_uploads(sink, result)
        sink.commit()
    return result


def _copy_table(
    source: sqlite3.Connection, sink: sqlite3.Connection, table: str, result: Salvaged
) -> None:
    wanted = _columns(sink, table)
    try:
        readable = _columns(source, table)
    except sqlite3.Error:
        return  # its schema is unreadable (or the table is older than it), rows unknown too
    key = KEY_COLUMNS.get(table, "id")
    names = [key, *(name for name in wanted if name in readable and name != key)]
    if key not in readable:
        return
    batches = {row[0] for row in sink.execute("SELECT id FROM batches")}
    insert = f'INSERT INTO "{table}" ({_listed(names)}) VALUES ({", ".join("?" * len(names))})'  # noqa: S608 (our own table and column names)
    for values in _readable_rows(source, table, names, result):
        row = dict(zip(names, values, strict=True))
        if not _sensible(table, row, wanted, key) or not _keeps_batch(table, row, batches):
            result.dropped[table] += 1
            continue
        try:
            sink.execute(insert, [row[name] for name in names])
        except sqlite3.IntegrityError:  # a twin uuid, a part whose job was lost
            result.dropped[table] += 1
        else:
            result.copied[table] += 1


def _listed(names: list[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


def _readable_rows(
    conn: sqlite3.Connection, table: str, names: list[str], result: Salvaged
) -> Iterator[tuple[Any, ...]]:
    """Yield ``table``'s rows in key order (the key is ``names[0]``), stepping one key at a
    time over unreadable spots."""
    key = f'"{names[0]}"'
    scan = f'SELECT {_listed(names)} FROM "{table}" WHERE {key} >= ? ORDER BY {key}'  # noqa: S608 (our own names)
    point = f'SELECT {_listed(names)} FROM "{table}" WHERE {key} = ?'  # noqa: S608 (our own names)
    highest = _scalar(conn, f'SELECT max({key}) FROM "{table}"')  # noqa: S608 (our own names)
    start = _scalar(conn, f'SELECT min({key}) FROM "{table}"') or 1  # noqa: S608 (our own names)
    while True:
        try:
            for row in conn.execute(scan, (start,)):
                if not isinstance(row[0], int) or row[0] < start:
                    raise sqlite3.DatabaseError("rows out of order")  # garbage read as rows
                yield row
                start = row[0] + 1
        except sqlite3.DatabaseError:
            found = _probe(conn, point, start, highest, result, table)
            if found is None:
                return
            yield found
            start = found[0] + 1
        else:
            return


def _probe(
    conn: sqlite3.Connection,
    point: str,
    start: int,
    highest: int | None,
    result: Salvaged,
    table: str,
) -> tuple[Any, ...] | None:
    """Return the first row from id ``start`` on that reads, or None past the last id."""
    end_known = highest is not None and highest >= start
    last = start + (MAX_PROBES_PER_GAP if end_known else PROBES_PAST_UNKNOWN_END)
    if highest is not None and end_known:
        last = min(last, highest)
    for ident in range(start, last + 1):
        try:
            row = conn.execute(point, (ident,)).fetchone()
        except sqlite3.DatabaseError:
            if end_known:
                result.unreadable[table] += 1
            continue
        if row is not None and row[0] == ident:
            return tuple(row)
    if not end_known:
        result.end_unread.add(table)
    return None


def _scalar(conn: sqlite3.Connection, query: str) -> int | None:
    try:
        value = conn.execute(query).fetchone()[0]
    except sqlite3.Error:
        return None
    return value if isinstance(value, int) else None


def _sensible(
    table: str, row: dict[str, Any], columns: dict[str, tuple[str, bool]], key: str = "id"
) -> bool:
    """True if every value has the type its column declares (damage reads as nonsense)."""
    model = Base.metadata.tables[table]
    for name, value in row.items():
        declared, not_null = columns[name]
        if value is None:
            if not_null or name == key:
                return False
            continue
        column = model.columns.get(name)
        if column is not None and isinstance(column.type, Enum) and value not in column.type.enums:
            return False
        if not _fits(declared, value):
            return False
    return True


def _fits(declared: str, value: Any) -> bool:
    if "INT" in declared:
        return isinstance(value, int)
    if "DATE" in declared or "TIME" in declared:
        try:
            datetime.fromisoformat(value)
        except (TypeError, ValueError):
            return False
        return True
    if "CHAR" in declared or "TEXT" in declared or "CLOB" in declared:
        return isinstance(value, str)
    return True


def _keeps_batch(table: str, row: dict[str, Any], batches: set[int]) -> bool:
    """Detach a job from a lost batch; False if it cannot do without (it was uploaded)."""
    if table != "jobs" or row.get("batch_id") is None or row["batch_id"] in batches:
        return True
    if row.get("state") in TERMINAL_STATES or row.get("uploaded_at") is None:
        row["batch_id"] = None  # a job not uploaded yet joins an open batch before it is
        return True
    return False  # uploaded into a batch that is gone: its file is queued again on rescan


def _restart_incomplete_uploads(sink: sqlite3.Connection, result: Salvaged) -> None:
    """Forget the upload of a job that lost some of its parts, so it is not completed short.

    It starts a new upload when it next runs; the old one is left to expire.
    """
    columns = _columns(sink, "jobs")
    forget = ", ".join(f'"{name}" = NULL' for name in UPLOAD_COLUMNS if name in columns)
    pending = sink.execute(
        "SELECT id, size FROM jobs WHERE upload_id IS NOT NULL AND uploaded_at IS NULL"
    ).fetchall()
    for job_id, size in pending:
        parts = sink.execute(
            "SELECT number, size FROM parts WHERE job_id = ? ORDER BY number", (job_id,)
        ).fetchall()
        numbers = [number for number, _ in parts]
        if numbers == list(range(1, len(parts) + 1)) and sum(s for _, s in parts) == size:
            continue
        sink.execute("DELETE FROM parts WHERE job_id = ?", (job_id,))
        sink.execute(f"UPDATE jobs SET {forget} WHERE id = ?", (job_id,))  # noqa: S608 (our own names)
        result.copied["parts"] -= len(parts)
        result.dropped["parts"] += len(parts)
        result.restarted_uploads += 1
