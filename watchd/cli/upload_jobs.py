"""The state side of `watchd upload`: its database, its jobs, the daemon's pipeline.

Loaded by ``upload_cmd.py`` on a thread of its own while the folder is looked
up (SQLAlchemy, the store and the pipeline are a third of a second of imports,
and the database may be created or migrated), so a long link's round trips of
the login and the lookup pay for them.
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import select

from watchd.base.clock import SYSTEM_CLOCK
from watchd.base.fileversion import Fingerprint, SettledFile
from watchd.base.stop import StopToken
from watchd.cli.api_access import CommandError
from watchd.cli.config_path import config_for_operator
from watchd.cli.upload_files import SourceFile, Sources
from watchd.cli.upload_output import UploadProgressBoard
from watchd.config.database_secret import database_password_file
from watchd.daemon.runtime_files import state_folder_error
from watchd.flowcapture.client import FlowCaptureClient
from watchd.ingest.failures import RetryPolicy
from watchd.ingest.pipeline import Pipeline, PipelineSources, build_pipeline
from watchd.ingest.policy import UPLOAD_FOLDER_PREFIX, FolderPolicy, TransferPolicy
from watchd.ingest.queueing import BatchRule, known_versions, queue_in
from watchd.store.database import Database, make_state_dir, sqlite_url
from watchd.store.migrate import SchemaError, upgrade
from watchd.store.models import Job, JobState
from watchd.store.transitions import RESUME, move_jobs

# A failed file stays resumable: it is never marked failed for good, and the user
# runs the same command again to go on from its committed parts.
KEEP_RESUMABLE = RetryPolicy(
    max_attempts=1_000_000, backoff_initial_seconds=0, backoff_max_seconds=0
)
DEFAULT_BATCH = "watchd upload {date:%Y-%m-%d}"
PROCESSING_PATIENCE_SECONDS = 120.0  # wait for an upload presumed complete to be listed
PROCESSING_POLL_SECONDS = 2.0
RESUMABLE_STATES = (JobState.WAITING, JobState.FAILED, JobState.CANCELLED)


class UploadState:
    """The state database ``watchd upload`` keeps its jobs in, opened and up to date."""

    def __init__(self, db: Database):
        self.db = db

    @classmethod
    def open(cls, args: argparse.Namespace) -> UploadState:
        """Open (create, migrate) the database the arguments name; raises CommandError."""
        db = _database(args)
        try:
            upgrade(db.engine)
        except SchemaError as exc:  # a database of a newer watchd: says what to do
            db.close()
            raise CommandError(str(exc)) from None
        except BaseException:
            db.close()
            raise
        return cls(db)

    def upload(
        self,
        args: argparse.Namespace,
        client: FlowCaptureClient,
        project_id: int,
        sources: Sources,
        transfer: TransferPolicy,
        stop: StopToken,
    ) -> list[dict[str, object]]:
        """Upload ``sources`` as one batch and return a row per file (see ``_report``)."""
        policy = _policy(args, project_id)
        job_ids, earlier = _jobs_for(self.db, policy, sources.files)
        _run_all(self.db, client, policy, job_ids, sources.total_bytes, transfer, stop)
        return _report(self.db, job_ids, earlier)

    def close(self) -> None:
        self.db.close()


def _database(args: argparse.Namespace) -> Database:
    """Return the state database, creating its state folder as the daemon would.

    A config naming a shared database gives its password file too. Raises
    CommandError if the state folder cannot be created.
    """
    if args.state_dir is not None:
        return _in_state_dir(args.state_dir)
    if not args.email and args.config.exists():
        config = config_for_operator(args.config)  # (its drop folders do not matter here)
        if config.database is not None:
            return Database(config.database, password_file=database_password_file(config))
        return _in_state_dir(config.state_dir)
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return _in_state_dir(base / "watchd")


def _in_state_dir(path: Path) -> Database:
    """The SQLite database in the state folder ``path``, created if need be (many
    writers: commits synced in groups). Raises CommandError."""
    try:
        make_state_dir(path)
    except OSError as exc:
        raise CommandError(str(state_folder_error(path, exc))) from None
    return Database(sqlite_url(path), group_sync=True)


def _policy(args: argparse.Namespace, project_id: int) -> FolderPolicy:
    fields = {}
    for pair in args.meta:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CommandError(f"--meta {pair!r} is not KEY=VALUE")
        fields[key.strip()] = value
    template = args.batch.replace("{", "{{").replace("}", "}}") if args.batch else DEFAULT_BATCH
    return FolderPolicy(
        name=f"{UPLOAD_FOLDER_PREFIX}{project_id}",
        root=Path("/"),
        project_id=project_id,
        batch_template=template,
        batch_idle_seconds=0,
        tags=tuple(args.tag),
        fields=fields,
    )


def _jobs_for(
    db: Database, policy: FolderPolicy, sources: list[SourceFile]
) -> tuple[list[int], set[int]]:
    """Return each file's job: resumed if its version is known, else new (one commit);
    and those an earlier run had done already."""
    files = [
        SettledFile(policy.name, f.path, f.relpath, Fingerprint.of(f.path.stat())) for f in sources
    ]
    rule = BatchRule(project_id=policy.project_id, template=policy.batch_template)
    now = SYSTEM_CLOCK.now()
    with db.transaction() as session:
        found = known_versions(session, files)
        known = [found.get(str(file.path)) for file in files]
        ids = [job.id for job in known if job is not None]
        earlier = {job.id for job in known if job is not None and job.state == JobState.DONE}
        move_jobs(
            session,
            RESUME,
            allowed=RESUMABLE_STATES,
            now=now,
            where=Job.id.in_(ids),
            attempts=0,
            operator_cancelled_at=None,
        )
        new = iter(
            queue_in(
                session, [f for f, j in zip(files, known, strict=True) if j is None], rule, now
            )
        )
        ids = []
        for job in known:
            if job is not None:
                ids.append(job.id)
                continue
            queued = next(new)
            if queued is None:
                raise CommandError("a file changed while it was being queued; try again")
            ids.append(queued.job_id)
        return ids, earlier


def _run_all(
    db: Database,
    client: FlowCaptureClient,
    policy: FolderPolicy,
    job_ids: list[int],
    total: int,
    transfer: TransferPolicy,
    stop: StopToken,
) -> None:
    """Upload, close the batch, finish, through the daemon's own pipeline."""
    sources = PipelineSources(
        lambda: {policy.name: policy}, lambda: transfer, lambda: KEEP_RESUMABLE
    )
    board = UploadProgressBoard(total, len(job_ids))
    pipeline = build_pipeline(db, client, sources, stop, board=board)
    to_send = _in_states(db, job_ids, JobState.QUEUED, JobState.UPLOADING)
    _run_each(pipeline, to_send, transfer.parallel_files, stop)
    board.close()
    if not stop.stopped:
        pipeline.closer.run_once()
    _finish_all(pipeline, job_ids, transfer.parallel_files, stop)


def _run_each(pipeline: Pipeline, job_ids: list[int], at_once: int, stop: StopToken) -> None:
    """Run the jobs, ``at_once`` side by side (each with its own stop token)."""
    with ThreadPoolExecutor(max(1, at_once), thread_name_prefix="file") as pool:
        for _ in pool.map(lambda job_id: pipeline.runner.run(job_id, stop.child()), job_ids):
            pass


def _finish_all(pipeline: Pipeline, job_ids: list[int], at_once: int, stop: StopToken) -> None:
    """Tag the closed files; wait a little for uploads presumed complete to be listed."""
    deadline = time.monotonic() + PROCESSING_PATIENCE_SECONDS
    while not stop.stopped:
        with pipeline.db.transaction() as session:
            move_jobs(
                session,
                RESUME,
                allowed=(JobState.WAITING,),
                now=pipeline.clock.now(),
                where=Job.id.in_(job_ids) & Job.uploaded_at.is_not(None),
            )
        pending = _in_states(pipeline.db, job_ids, JobState.INGESTING)
        _run_each(pipeline, pending, at_once, stop)
        done = set(_in_states(pipeline.db, pending, JobState.DONE))
        waiting = [j for j in pending if j not in done]
        if not waiting or time.monotonic() > deadline:
            return
        stop.wait(PROCESSING_POLL_SECONDS)


def _in_states(db: Database, job_ids: list[int], *states: JobState) -> list[int]:
    with db.reading() as session:
        found = set(
            session.scalars(select(Job.id).where(Job.id.in_(job_ids), Job.state.in_(states)))
        )
    return [j for j in job_ids if j in found]


def _report(db: Database, job_ids: list[int], earlier: set[int]) -> list[dict[str, object]]:
    with db.reading() as session:
        jobs = session.scalars(select(Job).where(Job.id.in_(job_ids)).order_by(Job.id))
        return [
            {
                "file": job.path,
                "job": job.id,
                "state": job.state.value,
                "asset_id": job.asset_id,
                "uuid": job.uuid,
                "batch": job.batch.name if job.batch else None,
                "error": job.last_error,
                "earlier": job.id in earlier,  # done by an earlier run: nothing sent now
            }
            for job in jobs
        ]
