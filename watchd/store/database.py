"""Opening the database: SQLite in WAL mode with a busy timeout and BEGIN IMMEDIATE.

PostgreSQL (several nodes on one database) is set up in ``postgres.py``; what
follows about locking is SQLite's alone.

Several threads write (workers committing part ETags, the watcher queueing
files, the batch closer); SQLite allows one writer at a time. Starting every
transaction with ``BEGIN IMMEDIATE`` takes the write lock up front, so two
transactions never both read and then fail to upgrade to a write ("database is
locked"); the busy timeout makes the second one wait its turn instead.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from watchd.store.postgres import PasswordFileError, make_postgres_engine, problem_message
from watchd.store.wal_sync import WalSync, WalSyncError

SQLITE_BUSY_TIMEOUT_MS = 30_000  # how long a writer waits for the lock before failing
DATABASE_FILENAME = "watchd.db"
# The state folder's mode when watchd creates it: the mode deploy/install.sh gives
# /var/lib/watchd (the watchd user writes, its group reads, others see nothing).
STATE_DIR_MODE = 0o750
READ_ONLY_OPTION = "watchd_read_only"  # execution option: a transaction that only reads
_T = TypeVar("_T")


def sqlite_url(state_dir: Path) -> str:
    """Return the SQLAlchemy URL of the database in ``state_dir``."""
    return f"sqlite:///{(state_dir / DATABASE_FILENAME).resolve()}"


def make_state_dir(state_dir: Path) -> None:
    """Create ``state_dir`` (and missing parents) if it is not there yet.

    Only the state folder itself gets STATE_DIR_MODE (less the umask); an existing
    folder keeps its mode, as an installer or operator set it. Raises OSError.
    """
    state_dir.mkdir(mode=STATE_DIR_MODE, parents=True, exist_ok=True)


def database_url(configured: str | None, state_dir: Path) -> str:
    """Return the URL of the state database: the configured one, else SQLite in ``state_dir``."""
    return configured or sqlite_url(state_dir)


DAMAGE_ERRORS = ("SQLITE_CORRUPT", "SQLITE_NOTADB")  # SQLite error names that mean a bad file
DAMAGED_ADVICE = (
    "run `watchd db check`, then `watchd db recover` (it moves the damaged file aside and "
    "starts a new one), or restore it from a backup"
)


class DatabaseProblem(SQLAlchemyError):
    """The state database cannot be used; ``str()`` is one line naming it and what to do.

    An SQLAlchemyError, so that code handling raw database errors handles these too.
    """


class DatabaseDamaged(DatabaseProblem):
    """SQLite found the database file corrupt, or not a database at all."""


def sqlite_path(url: str | URL) -> Path | None:
    """Return the file of a SQLite URL; None for another database or an in-memory one."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def damaged_message(path: Path, detail: str) -> str:
    """Return the one line that says the database at ``path`` is damaged and what to do."""
    return f"the state database {path} is damaged ({detail}); {DAMAGED_ADVICE}"


def database_problem(exc: BaseException, url: str | URL) -> DatabaseProblem:
    """Return ``exc`` (a database error met using ``url``) as a one-line DatabaseProblem."""
    if isinstance(exc, DatabaseProblem):
        return exc
    if isinstance(exc, PasswordFileError):
        return DatabaseProblem(str(exc))
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    detail = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    path = sqlite_path(url)
    if path is None:
        return DatabaseProblem(problem_message(url, detail, getattr(cause, "sqlstate", None)))
    name = getattr(cause, "sqlite_errorname", "") or _errorname_from(detail)
    if name.startswith(DAMAGE_ERRORS):
        return DatabaseDamaged(damaged_message(path, detail))
    return DatabaseProblem(_sqlite_message(path, name, detail))


def _errorname_from(detail: str) -> str:
    """Return SQLite's error name for a message that came without one (older drivers)."""
    if "not a database" in detail:
        return "SQLITE_NOTADB"
    return "SQLITE_CORRUPT" if "malformed" in detail else ""


def _sqlite_message(path: Path, name: str, detail: str) -> str:
    """Return the one line for SQLite error ``name`` (not damage) met on ``path``."""
    folder = path.parent
    if name.startswith(("SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")):
        return (
            f"cannot open the state database {path} ({_why_not_open(path, detail)}); the watchd "
            f"user needs read and write access to it and to its folder {folder}, "
            "or set state_dir"
        )
    if name.startswith("SQLITE_READONLY"):
        return (
            f"the state database {path} is read-only ({_why_read_only(path, detail)}); give "
            f"the watchd user write access to it and to its folder {folder}"
        )
    if name.startswith("SQLITE_FULL"):
        return f"the disk holding the state database {path} is full ({detail}); free some space"
    if name.startswith("SQLITE_IOERR"):
        return (
            f"reading or writing the state database {path} failed ({detail}); check the disk "
            "(dmesg), then run `watchd db check`"
        )
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return (
            f"the state database {path} stayed locked by another process ({detail}); try again, "
            f"and check that nothing but watchd uses {folder}"
        )
    return f"the state database {path} could not be used ({detail}); run `watchd db check`"


def _why_read_only(path: Path, detail: str) -> str:
    """Return what keeps SQLite from writing ``path``, as far as the filesystem tells."""
    try:
        if os.statvfs(path).f_flag & os.ST_RDONLY:
            return "it is on a read-only file system"
        if not os.access(path, os.W_OK):
            return "this user may not write it"
        if not os.access(path.parent, os.W_OK):
            return f"this user may not write to {path.parent}, where its journal goes"
    except OSError:
        return detail
    return detail


def _why_not_open(path: Path, detail: str) -> str:
    """Return what keeps SQLite from opening ``path``, as far as the filesystem tells."""
    try:
        for ancestor in path.parents:
            if ancestor.exists():
                if not ancestor.is_dir():
                    return f"{ancestor} is a file, not a folder"
                break
        if path.is_dir():
            return "it is a folder, not a file"
        if not path.parent.is_dir():
            return f"its folder {path.parent} does not exist"
        if os.statvfs(path.parent).f_flag & os.ST_RDONLY:
            return f"{path.parent} is on a read-only file system"
        if path.exists() and not os.access(path, os.R_OK | os.W_OK):
            return "this user may not read and write it"
        if not os.access(path.parent, os.W_OK | os.X_OK):
            return f"this user may not write to {path.parent}"
    except PermissionError:
        return f"this user may not look inside {path.parent}"
    except OSError:
        pass  # the filesystem tells no more than SQLite did
    return detail


def is_sqlite(url: str | URL) -> bool:
    """Return whether ``url`` names a SQLite database."""
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, password_file: Path | None = None) -> Engine:
    """Return an engine for ``url``, configured for safe concurrent use.

    ``password_file`` (not for SQLite) holds the password, read at each new
    connection. Raises DatabaseProblem if the URL's database driver is not installed.
    """
    if not is_sqlite(url):
        try:
            if make_url(url).get_backend_name() == "postgresql":
                return make_postgres_engine(url, password_file)
            return create_engine(url, pool_pre_ping=True)
        except ImportError as exc:
            where = make_url(url).render_as_string(hide_password=True)
            raise DatabaseProblem(
                f"the driver for the database {where} is not installed ({exc}); install it "
                "into watchd's Python environment, e.g. `pip install 'psycopg[binary]'`"
            ) from exc
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
    )
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_immediate)
    return engine


def _configure_sqlite_connection(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # Let SQLAlchemy's "begin" hook issue BEGIN itself instead of pysqlite's deferred BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # FULL: a committed ETag survives a power cut, not only a killed process. (The
        # writers' shared connection commits with NORMAL and is synced by wal_sync.py.)
        cursor.execute("PRAGMA synchronous=FULL")
    finally:
        cursor.close()


def _begin_immediate(connection: Any) -> None:
    if connection.get_execution_options().get(READ_ONLY_OPTION):
        connection.exec_driver_sql("BEGIN")  # readers never block writers in WAL mode
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _synced(call: Callable[[], _T]) -> _T:
    """``call()``, a failed sync of the log raised as DatabaseProblem."""
    try:
        return call()
    except WalSyncError as exc:
        raise DatabaseProblem(str(exc)) from exc


class Database:
    """The engine and a session factory; ``transaction()`` is the one way to write."""

    def __init__(self, url: str, password_file: Path | None = None, *, group_sync: bool = False):
        """Open ``url`` (SQLite or PostgreSQL); ``password_file`` see ``make_engine``.

        ``group_sync``: on SQLite, the commits of this process's writers are synced in
        groups (wal_sync.py), for a process with many writers (the daemon, `watchd upload`).
        """
        self.url = url
        self.engine = make_engine(url, password_file)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # One writer at a time within this process (SQLite only; a no-op elsewhere).
        self._sqlite = is_sqlite(url)
        self._write_turn: AbstractContextManager[object] = (
            threading.RLock() if self._sqlite else nullcontext()
        )
        # SQLite: the writers, taking turns, share one connection (see _writer_session),
        # whose commits are synced to disk in groups (wal_sync.py).
        self._writer: Connection | None = None
        self._writing = False  # the lock's holder is inside transaction() (a nested one?)
        # Syncs the writers' connection's commits, once it is set up in WAL mode.
        self.group_sync = group_sync and self._sqlite
        self.wal: WalSync | None = None
        self._wal_finalizer: weakref.finalize[Any, Any] | None = None
        self._readers = sessionmaker(
            self.engine.execution_options(**{READ_ONLY_OPTION: True}), expire_on_commit=False
        )

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Yield a session inside one transaction: committed on success, rolled back on error.

        On SQLite the writers of this process take turns on a lock of their own
        first: a waiter wakes the moment the previous one commits, where SQLite's
        busy handler would poll with growing sleeps (tens of writer threads lose
        most of their time that way). Other processes still wait in SQLite.
        The commit is on disk when this returns (see wal_sync.py); raises
        DatabaseProblem if it cannot be synced.
        """
        commit, wal = 0, None
        with self._write_turn:
            nested = self._writing  # (on a pooled connection, synced by SQLite itself)
            try:
                with self._writer_session() as session, session.begin():
                    yield session
                    wal = None if nested else self.wal
                    if wal is not None:
                        session.flush()  # (numbered when only COMMIT is left to do)
                        commit = _synced(wal.number_commit)  # (raises after a failed sync)
            finally:
                if wal is not None:
                    wal.settle()
        if commit and wal is not None:  # the turn given back: the next writer goes on
            _synced(lambda: wal.wait_durable(commit))

    @contextmanager
    def _writer_session(self) -> Iterator[Session]:
        """A session on the writers' shared connection (SQLite), else on one from the pool.

        Writers take turns anyway, so on SQLite one connection kept open serves
        them all: no pool checkout, reset and checkin around every write (a
        quarter of a small transaction's cost). A transaction opened inside
        another on the same thread gets a pooled connection, as before.
        """
        if not self._sqlite or self._writing:
            with self._sessions() as session:
                yield session
            return
        if self._writer is None or self._writer.closed:
            self._writer = self.engine.connect()
            self._writer.detach()  # its settings below never reach the pool's other users
            self._set_up_group_sync()
            weakref.finalize(self, self._writer.close)  # a Database dropped without close()
        elif self._writer.in_transaction():  # never expected: a session must not join it
            self._writer.rollback()
        self._writing = True  # only the write lock's holder gets here
        try:
            with self._sessions(bind=self._writer) as session:
                yield session
        finally:
            self._writing = False

    def _set_up_group_sync(self) -> None:
        """Let self.wal sync the new writers' connection's commits, if it is in WAL mode.

        Its commits then skip SQLite's own sync (NORMAL). Otherwise (a file system
        without WAL support keeps the rollback journal) SQLite syncs them (FULL).
        """
        assert self._writer is not None
        raw = self._writer.connection.dbapi_connection
        assert raw is not None
        if self.wal is not None:
            self.wal.close()
            self.wal = None
        if not self.group_sync:
            return
        (mode,) = raw.execute("PRAGMA journal_mode").fetchone()
        files = {name: file for _seq, name, file in raw.execute("PRAGMA database_list")}
        if str(mode).lower() != "wal" or not files.get("main"):
            return
        try:  # the file SQLite writes: a symbolic link in the URL resolved
            wal = WalSync(Path(files["main"] + "-wal"))
        except OSError:
            return  # (no log file to sync: SQLite keeps syncing itself)
        raw.execute("PRAGMA synchronous=NORMAL")  # (not in a transaction: allowed)
        self.wal = wal
        if self._wal_finalizer is not None:
            self._wal_finalizer.detach()
        self._wal_finalizer = weakref.finalize(self, wal.close)

    @contextmanager
    def reading(self, *, display: bool = False) -> Iterator[Session]:
        """Yield a session for reads only: it takes no write lock (status, listings).

        Returns once what it may have seen is on disk (see wal_sync.py), unless
        ``display``: what is read is only shown (status, metrics), and a slow or
        failing disk must not hold it up.
        """
        with self._readers() as session, session.begin():
            yield session
        wal = self.wal
        if wal is not None and not display:
            _synced(wal.wait_durable)

    def close(self) -> None:
        """Release all connections."""
        with self._write_turn:
            if self.wal is not None:  # first: closing the last connection removes the log
                self.wal.close()
                self.wal = None
            if self._writer is not None:
                self._writer.close()
                self._writer = None
        self.engine.dispose()
