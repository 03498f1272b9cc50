"""The one place a job's state is written: guarded moves that say whether they won.

Every writer (the upload and finish steps, the batch closer, the requeue step,
the operator's commands) moves a job with :func:`move_job` or
:func:`move_jobs`: ``UPDATE jobs SET ... WHERE id = ? AND state IN (allowed)``.
The fields that belong to the new state (``updated_at``, ``finished_at``,
``next_attempt_at``, ``uploaded_at``, the error) are set here, once. A writer
that loses (an operator cancelled meanwhile) learns it from the return value
and backs off; it never overwrites a state it did not expect.

On SQLite every writing transaction holds the database's write lock from its
first statement (BEGIN IMMEDIATE), so a read followed by a guarded move in the
same transaction cannot be overtaken; on any database the guard itself
decides races between writers.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, Update, bindparam, true, update
from sqlalchemy.orm import Session

from watchd.store.models import TERMINAL_JOB_STATES, Job, JobState


class Resume(enum.Enum):
    """Target meaning "back in line": :attr:`Job.resume_state`, evaluated per row."""

    RESUME = "resume"


RESUME = Resume.RESUME
Target = JobState | Resume | None  # None: the state stays, only guarded fields change

# Conditions callers pass as ``when``: named once, so the statements using them are built once.
COMPLETE_NOT_SENT = Job.complete_sent_at.is_(None)
NOT_UPLOADED = Job.complete_sent_at.is_(None) & Job.uploaded_at.is_(None)
SOURCE_UNCLAIMED = Job.source_action_at.is_(None)
NOT_CANCELLED_BY_OPERATOR = Job.operator_cancelled_at.is_(None)
_NAMED_CONDITIONS = (COMPLETE_NOT_SENT, NOT_UPLOADED, SOURCE_UNCLAIMED, NOT_CANCELLED_BY_OPERATOR)
_statements: dict[tuple[Any, ...], Update] = {}  # one-job moves, built once each (hot path)
_statements_lock = threading.Lock()


def state_fields(to: Target, now: datetime) -> dict[str, Any]:
    """Return the columns a move to ``to`` sets besides the caller's own values."""
    fields: dict[str, Any] = {"updated_at": now}
    if to is None:
        return fields
    fields["waiting_on"] = None  # set again by the caller for a wait on an outage
    fields["state"] = Job.resume_state if to is RESUME else to
    if to is RESUME or to in (JobState.QUEUED, JobState.INGESTING):
        fields.update(next_attempt_at=None, finished_at=None)
    elif to == JobState.UPLOADING:
        fields.update(next_attempt_at=None)
    elif to == JobState.UPLOADED:
        fields.update(uploaded_at=now, next_attempt_at=None, last_error=None)
    elif to == JobState.DONE:
        fields.update(finished_at=now, next_attempt_at=None, last_error=None)
    elif to in TERMINAL_JOB_STATES:
        fields.update(finished_at=now, next_attempt_at=None)
    return fields


def move_jobs(
    session: Session,
    to: Target,
    *,
    allowed: Collection[JobState],
    now: datetime,
    where: ColumnElement[bool] | None = None,
    **values: Any,
) -> int:
    """Move every job matching ``where`` whose state is in ``allowed`` to ``to``.

    ``values`` are further columns to set (they win over the state's defaults).
    Returns how many jobs moved.
    """
    if to == JobState.WAITING and "next_attempt_at" not in values:
        raise ValueError("a move to waiting needs next_attempt_at")
    condition = Job.state.in_(list(allowed)) & (where if where is not None else true())
    statement = (
        update(Job)
        .where(condition)
        .values({**state_fields(to, now), **values})
        .execution_options(synchronize_session=False)
    )
    result = session.execute(statement)
    assert isinstance(result, CursorResult)
    moved = int(result.rowcount or 0)
    if moved:
        session.expire_all()  # objects loaded earlier in this session must not hide the move
    return moved


def move_job(
    session: Session,
    job_id: int,
    to: Target,
    *,
    allowed: Collection[JobState],
    now: datetime,
    when: ColumnElement[bool] | None = None,
    **values: Any,
) -> bool:
    """Move one job to ``to`` if its state is in ``allowed`` (and ``when`` holds).

    ``when`` is one of the named conditions of this module (COMPLETE_NOT_SENT,
    ...) or any other expression (built anew each time). Returns True if it
    moved (the caller won), False if the job was elsewhere.
    """
    if to == JobState.WAITING and "next_attempt_at" not in values:
        raise ValueError("a move to waiting needs next_attempt_at")
    named = when is None or any(when is c for c in _NAMED_CONDITIONS)
    if not named:
        where = (Job.id == job_id) & when if when is not None else Job.id == job_id
        return move_jobs(session, to, allowed=allowed, now=now, where=where, **values) == 1
    fields = {**state_fields(to, now), **values}
    state = fields.pop("state", None)
    statement = _one_job_statement(to, tuple(sorted(allowed)), tuple(sorted(fields)), when)
    params = {f"v_{name}": value for name, value in fields.items()}
    params["b_job_id"] = job_id
    if state is not None and to is not RESUME:
        params["v_state"] = state
    result = session.connection().execute(statement, params)
    moved = int(result.rowcount or 0) == 1
    if moved:
        session.expire_all()  # objects loaded earlier in this session must not hide the move
    return moved


def _one_job_statement(
    to: Target,
    allowed: tuple[JobState, ...],
    columns: tuple[str, ...],
    when: ColumnElement[bool] | None,
) -> Update:
    """Return the cached ``UPDATE jobs ... WHERE id = :job_id AND state IN (...)``."""
    key = (to, allowed, columns, None if when is None else id(when))
    with _statements_lock:
        statement = _statements.get(key)
    if statement is not None:
        return statement
    condition = (Job.id == bindparam("b_job_id")) & Job.state.in_(list(allowed))
    if when is not None:
        condition = condition & when
    assignments: dict[Any, Any] = {name: bindparam(f"v_{name}") for name in columns}
    if to is RESUME:
        assignments["state"] = Job.resume_state
    elif to is not None:
        assignments["state"] = bindparam("v_state")
    statement = update(Job).where(condition).values(assignments)
    with _statements_lock:
        _statements[key] = statement
    return statement
