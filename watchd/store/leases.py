"""Who works on what when several nodes share one PostgreSQL queue.

A node claims runnable jobs with ``SELECT ... FOR UPDATE SKIP LOCKED`` (two
nodes never claim the same row, and neither waits for the other) and holds
each under a lease: its name and ``lease_until``, timed by the database's
clock, not the node's. It renews the leases of the jobs it runs, and its own
heartbeat, every third of the lease; a job whose lease ran out (its node
died or lost the database) is claimable by any node serving its folder,
which resumes it from the part ETags already committed. A drop folder is
watched by one node at a time, under a folder lease renewed the same way.
A node that stops cleanly gives its leases back at once.

A single node on SQLite needs none of this (the lock file already makes it
the only daemon): :class:`LocalClaims` hands out jobs as before, with no
lease round trips.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from watchd.base.boot import Boot, this_boot
from watchd.store.database import Database
from watchd.store.models import FolderLease, Job, JobState, Node

log = logging.getLogger(__name__)

# Jobs a worker can take: ingesting ones first (their uploads are done), then those
# under way, then queued ones, each oldest first.
RUNNABLE_STATES = (JobState.INGESTING, JobState.UPLOADING, JobState.QUEUED)


def _pg_insert(table: type[Node] | type[FolderLease]) -> Any:
    """PostgreSQL's ``INSERT`` (with ``ON CONFLICT``): only nodes sharing a queue use it,
    so the dialect (a fiftieth of a second of imports) is loaded only for them."""
    from sqlalchemy.dialects.postgresql import insert  # noqa: PLC0415 - see above

    return insert(table)


class NodeNameTaken(Exception):
    """Another live node uses this node's name."""


@dataclass(frozen=True)
class Registration:
    """Which process registered a node, and when (the database's clock, as ISO text),
    in which boot of which machine.

    The daemon keeps its own in its state folder. A node row that still matches
    it at the next start, in the same boot of this machine, was written by that
    folder's previous daemon, which is dead: the new one holds the folder's
    lock, which no process of this machine can hold meanwhile. A copy of the
    state folder on another machine (a cloned VM, a restored backup) is in
    another boot, so it cannot take a live node's name over.
    """

    name: str
    host: str
    pid: int
    started_at: str
    boot_id: str = ""  # see base/boot.py
    booted_at: float = 0.0

    def made_before_me(self, row: Node) -> bool:
        """Return True if ``row`` is this registration, made earlier in this machine's boot."""
        try:
            started = datetime.fromisoformat(self.started_at)
        except ValueError:
            return False
        return (
            self.booted_at > 0
            and Boot(self.boot_id, self.booted_at).same_as(this_boot())
            and (self.name, self.host, self.pid, started)
            == (row.name, row.host, row.pid, row.started_at)
        )


class LocalClaims:
    """One daemon on its own database: every runnable job and every folder are its own."""

    shared = False

    def __init__(self, db: Database):
        self.db = db

    def next_jobs(self, limit: int, busy: Collection[int], folders: Collection[str]) -> list[int]:
        """Return up to ``limit`` runnable jobs of ``folders`` not in ``busy``.

        One small indexed query per folder and state (state, folder, id), so a
        queue of 100,000 files is never sorted as a whole.
        """
        found: list[tuple[int, int]] = []  # (priority, id)
        busy = list(busy)
        with self.db.reading() as session:
            for priority, state in enumerate(RUNNABLE_STATES):
                for folder in folders:
                    ids = session.scalars(
                        _RUNNABLE,
                        {"state": state, "folder": folder, "busy": busy, "limit": limit},
                    )
                    found.extend((priority, job_id) for job_id in ids)
                if len(found) >= limit:
                    break
        return [job_id for _, job_id in sorted(found)[:limit]]

    def release(self, job_id: int) -> None:
        """Nothing to give back."""

    def renew(self, running: Collection[int]) -> bool:
        """Nothing to renew; True (the work is still ours)."""
        return True

    def lost(self, running: Collection[int]) -> list[int]:
        """No other node can take a job: none."""
        return []

    def hold_folders(self, folders: Mapping[str, str]) -> set[str]:
        """Every configured folder is watched here."""
        return set(folders)

    def stop(self) -> None:
        """Nothing to give back."""


@dataclass(frozen=True)
class NodeInfo:
    """A node as the operator sees it."""

    name: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    stopped_at: datetime | None
    seconds_since_heartbeat: float
    jobs_held: int
    folders_held: list[str]


class SharedClaims:
    """Jobs and folders claimed under leases in a shared PostgreSQL database."""

    shared = True

    def __init__(self, db: Database, node: str, lease_seconds: float):
        self.db = db
        self.node = node
        self.lease = timedelta(seconds=lease_seconds)

    # --- the node ---------------------------------------------------------------------

    def register(self, previous: Registration | None = None) -> Registration:
        """Record this node as started and return the record; raises NodeNameTaken if a
        live node has its name.

        A node of that name whose heartbeat is older than a lease is this one
        before a crash or a restart; so is one still recorded as ``previous``
        (this state folder's last registration: that daemon was killed, and a
        restart need not wait out its lease). Its leases become this node's again.
        """
        host, pid = socket.gethostname(), os.getpid()
        with self.db.transaction() as session:
            row = session.get(Node, self.node, with_for_update=True)
            if row is not None and row.stopped_at is None and (row.host, row.pid) != (host, pid):
                self._check_not_running(session, row, previous)
            values = {
                "host": host, "pid": pid, "started_at": func.now(),
                "heartbeat_at": func.now(), "stopped_at": None,
            }  # fmt: skip
            started = session.scalar(
                _pg_insert(Node)
                .values(name=self.node, **values)
                .on_conflict_do_update(index_elements=[Node.name], set_=values)
                .returning(Node.started_at)
            )
        assert started is not None
        boot = this_boot()
        return Registration(self.node, host, pid, started.isoformat(), boot.id, boot.at)

    def _check_not_running(
        self, session: Session, row: Node, previous: Registration | None
    ) -> None:
        """Raise NodeNameTaken unless the node ``row`` describes is dead."""
        if previous is not None and previous.made_before_me(row):
            log.info(
                "node %s: its previous daemon (on %s, pid %d) ended without stopping; "
                "taking its work over now",
                self.node,
                row.host,
                row.pid,
            )
            return
        age = session.scalar(
            select(_seconds_since(Node.heartbeat_at)).where(Node.name == self.node)
        )
        if age is not None and float(age) < self.lease.total_seconds():
            raise NodeNameTaken(
                f"another node named {self.node!r} is running (on {row.host}, pid "
                f"{row.pid}, heartbeat {float(age):.0f}s ago); give each node "
                "its own name with node: {name: ...}"
            )

    def renew(self, running: Collection[int]) -> bool:
        """Renew the heartbeat and the leases of ``running`` jobs; False if a job was lost.

        A job is lost when another node took it over (its lease ran out while
        this node could not reach the database): the caller stops it.
        """
        with self.db.transaction() as session:
            session.execute(
                update(Node).where(Node.name == self.node).values(heartbeat_at=func.now())
            )
            if not running:
                return True
            renewed = session.execute(
                update(Job)
                .where(Job.id.in_(running), Job.lease_node == self.node)
                .values(lease_until=func.now() + self.lease)
                .returning(Job.id)
            ).scalars()
            return len(set(renewed)) == len(set(running))

    def lost(self, running: Collection[int]) -> list[int]:
        """Return the jobs of ``running`` whose lease another node holds now."""
        if not running:
            return []
        with self.db.reading() as session:
            return list(
                session.scalars(
                    select(Job.id).where(Job.id.in_(running), Job.lease_node != self.node)
                )
            )

    def stop(self) -> None:
        """Give back every job and folder lease at once and record the clean stop."""
        with self.db.transaction() as session:
            session.execute(
                update(Job)
                .where(Job.lease_node == self.node)
                .values(lease_node=None, lease_until=None)
            )
            session.execute(
                update(FolderLease)
                .where(FolderLease.node == self.node)
                .values(lease_until=func.now() - timedelta(seconds=1))
            )
            session.execute(
                update(Node).where(Node.name == self.node).values(stopped_at=func.now())
            )

    # --- jobs -------------------------------------------------------------------------

    def next_jobs(self, limit: int, busy: Collection[int], folders: Collection[str]) -> list[int]:
        """Claim up to ``limit`` runnable jobs of ``folders``; return their ids.

        Rows another node is claiming at this moment are skipped, not waited
        for; a job leased by a live node is left alone.
        """
        claimed: list[int] = []
        with self.db.transaction() as session:
            for state in RUNNABLE_STATES:
                for folder in folders:
                    if len(claimed) >= limit:
                        break
                    claimed += session.scalars(
                        _runnable(state, folder, [*busy, *claimed])
                        .where(self._claimable())
                        .limit(limit - len(claimed))
                        .with_for_update(skip_locked=True)
                    )
            if claimed:
                session.execute(
                    update(Job)
                    .where(Job.id.in_(claimed))
                    .values(lease_node=self.node, lease_until=func.now() + self.lease)
                )
        return claimed

    def release(self, job_id: int) -> None:
        """Give back the lease of a job this node stopped working on."""
        with self.db.transaction() as session:
            session.execute(
                update(Job)
                .where(Job.id == job_id, Job.lease_node == self.node)
                .values(lease_node=None, lease_until=None)
            )

    def _claimable(self) -> ColumnElement[bool]:
        return or_(
            Job.lease_until.is_(None), Job.lease_until < func.now(), Job.lease_node == self.node
        )

    # --- folders ----------------------------------------------------------------------

    def hold_folders(self, folders: Mapping[str, str]) -> set[str]:
        """Take or renew the lease of each folder (name -> path) free or already ours.

        Returns the names this node holds now: it watches those, and closes
        their batches; another node watches the rest.
        """
        held: set[str] = set()
        with self.db.transaction() as session:
            for name, path in sorted(folders.items()):
                statement = (
                    _pg_insert(FolderLease)
                    .values(folder=name, path=path, node=self.node,
                            lease_until=func.now() + self.lease)
                    .on_conflict_do_update(
                        index_elements=[FolderLease.folder],
                        set_={"node": self.node, "path": path,
                              "lease_until": func.now() + self.lease},
                        where=or_(FolderLease.lease_until < func.now(),
                                  FolderLease.node == self.node),
                    )
                    .returning(FolderLease.folder)
                )  # fmt: skip
                if session.execute(statement).first() is not None:
                    held.add(name)
        return held


Claims = LocalClaims | SharedClaims


def claims_for(db: Database, node: str, lease_seconds: float) -> Claims:
    """Return the claims for ``db``: leases on PostgreSQL, none on a node's own SQLite."""
    if db.engine.dialect.name == "postgresql":
        return SharedClaims(db, node, lease_seconds)
    return LocalClaims(db)


def nodes(db: Database) -> list[NodeInfo]:
    """Return every node that ever used this database, with what it holds now."""
    with db.reading() as session:
        held = dict(
            session.execute(
                select(Job.lease_node, func.count(Job.id))
                .where(Job.lease_node.is_not(None), Job.lease_until > func.now())
                .group_by(Job.lease_node)
            ).all()
        )
        folders: dict[str, list[str]] = {}
        for folder, node in session.execute(
            select(FolderLease.folder, FolderLease.node).where(FolderLease.lease_until > func.now())
        ):
            folders.setdefault(node, []).append(folder)
        rows = session.execute(
            select(Node, _seconds_since(Node.heartbeat_at)).order_by(Node.name)
        ).all()
        return [
            NodeInfo(
                name=node.name,
                host=node.host,
                pid=node.pid,
                started_at=node.started_at,
                heartbeat_at=node.heartbeat_at,
                stopped_at=node.stopped_at,
                seconds_since_heartbeat=float(age),
                jobs_held=int(held.get(node.name, 0)),
                folders_held=sorted(folders.get(node.name, [])),
            )
            for node, age in rows
        ]


# _runnable's query with its values as parameters, built once: the dispatcher asks it
# each time a worker frees up, and building it was most of the question's CPU.
_RUNNABLE = (
    select(Job.id)
    .where(
        Job.state == bindparam("state"),
        Job.folder == bindparam("folder"),
        Job.id.not_in(bindparam("busy", expanding=True)),
    )
    .order_by(Job.id)
    .limit(bindparam("limit", type_=Integer))
)


def _runnable(state: JobState, folder: str, busy: Collection[int]) -> Select[Any]:
    """Return the query for runnable jobs of one state and folder not in ``busy``, oldest first."""
    return (
        select(Job.id)
        .where(Job.state == state, Job.folder == folder, Job.id.not_in(list(busy)))
        .order_by(Job.id)
    )


def _seconds_since(moment: Any) -> ColumnElement[Any]:
    """Seconds from ``moment`` to now, by the database's clock."""
    return func.extract("epoch", func.now() - moment)
