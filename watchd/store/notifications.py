"""The notification outbox: events queued per target until a message carried them.

Queueing is one small insert (one row per target), so whoever reports an event
never waits on a webhook or a mail server. Delivery (watchd/notify/outbox.py)
reads a target's pending rows, sends one message, and marks them sent, or
counts a failed attempt on all of them. Each node delivers what it queued.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, func, or_, select, update

from watchd.store.database import Database
from watchd.store.models import Batch, Job, Notification


@dataclass(frozen=True)
class Pending:
    """What a target has waiting: since when, and when it may be tried again."""

    target: str
    oldest: datetime
    next_attempt_at: datetime | None
    count: int


def enqueue(
    db: Database, node: str, targets: Collection[str], kind: str, payload: str, now: datetime
) -> None:
    """Queue one event (``payload``: JSON) for each of ``targets``, in one transaction."""
    if not targets:
        return
    with db.transaction() as session:
        session.add_all(
            Notification(
                node=node, target=t, kind=kind, payload=payload, created_at=now, attempts=0
            )
            for t in targets
        )


def _open(node: str) -> tuple[ColumnElement[bool], ...]:
    return (
        Notification.node == node,
        Notification.sent_at.is_(None),
        Notification.dropped_at.is_(None),
    )


def pending_by_target(db: Database, node: str) -> list[Pending]:
    """Return, per target with anything waiting on this node, its oldest event and next try."""
    with db.reading() as session:
        rows = session.execute(
            select(
                Notification.target,
                func.min(Notification.created_at),
                func.max(Notification.next_attempt_at),
                func.count(Notification.id),
            )
            .where(*_open(node))
            .group_by(Notification.target)
        ).all()
    return [Pending(t, oldest, next_at, count) for t, oldest, next_at, count in rows]


def take_pending(db: Database, node: str, target: str, limit: int) -> list[tuple[int, str, int]]:
    """Return up to ``limit`` events waiting for ``target``, oldest first.

    Each is (id, payload, attempts).
    """
    with db.reading() as session:
        rows = session.execute(
            select(Notification.id, Notification.payload, Notification.attempts)
            .where(*_open(node), Notification.target == target)
            .order_by(Notification.id)
            .limit(limit)
        ).all()
    return [(i, p, a) for i, p, a in rows]


def mark_sent(db: Database, ids: Collection[int], now: datetime) -> None:
    """Record that a message carried the events ``ids``."""
    with db.transaction() as session:
        session.execute(update(Notification).where(Notification.id.in_(ids)).values(sent_at=now))


def mark_failed(
    db: Database,
    ids: Collection[int],
    error: str,
    next_attempt_at: datetime | None,
    now: datetime,
) -> None:
    """Count a failed attempt on ``ids``: try again at ``next_attempt_at``, or drop (None)."""
    values: dict[str, object] = {
        "attempts": Notification.attempts + 1,
        "last_error": error,
        "next_attempt_at": next_attempt_at,
    }
    if next_attempt_at is None:
        values["dropped_at"] = now
    with db.transaction() as session:
        session.execute(update(Notification).where(Notification.id.in_(ids)).values(**values))


def forget_targets(db: Database, node: str, keep: Collection[str], now: datetime) -> int:
    """Drop what waits for targets no longer configured (not in ``keep``); return how many."""
    with db.transaction() as session:
        result = session.execute(
            update(Notification)
            .where(*_open(node), Notification.target.not_in(list(keep)))
            .values(dropped_at=now, last_error="target removed from the configuration")
        )
    return int(getattr(result, "rowcount", 0) or 0)


def prune(db: Database, before: datetime) -> None:
    """Delete events sent or dropped before ``before`` (the outbox stays small)."""
    with db.transaction() as session:
        session.execute(
            delete(Notification).where(
                or_(Notification.sent_at < before, Notification.dropped_at < before)
            )
        )


def batch_totals(db: Database, batch_id: int) -> tuple[int, float | None]:
    """Return the bytes of a batch's uploaded files and seconds from its opening to its close."""
    with db.reading() as session:
        size = session.scalar(
            select(func.coalesce(func.sum(Job.size), 0)).where(
                Job.batch_id == batch_id, Job.uploaded_at.is_not(None)
            )
        )
        batch = session.get(Batch, batch_id)
    if batch is None:
        return int(size or 0), None
    end = batch.closed_at
    took = (end - batch.opened_at).total_seconds() if end is not None else None
    return int(size or 0), took
