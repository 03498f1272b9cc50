"""`watchd upload`: a one-shot upload through the daemon's resumable engine.

Files become jobs in the same database as the daemon's (under a folder named
``upload:<project id>`` that no daemon serves), so an interrupted upload,
even one killed outright, continues from its committed parts when the same
command is run again. The batch is closed with /complete/upload at the end.
Folders are uploaded as trees (``upload_files.py``); all files go in one
batch. The command ends when Flow Capture has the files, before it has
processed them; --wait waits until they are listed (``upload_wait.py``).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import select

from watchd.base.clock import SYSTEM_CLOCK
from watchd.base.fileversion import Fingerprint, SettledFile
from watchd.base.stop import StopToken
from watchd.cli.api_access import (
    CommandError,
    add_api_arguments,
    make_client,
    reports_failures,
    resolve_folder,
)
from watchd.cli.upload_files import SourceFile, Sources, UploadSourceError, collect, describe
from watchd.cli.upload_output import UploadProgressBoard, show_outcome
from watchd.cli.upload_wait import DEFAULT_WAIT_TIMEOUT, wait_for_listing
from watchd.config import load_config
from watchd.config.database_secret import database_password_file
from watchd.config.schema import DEFAULT_CONNECTIONS
from watchd.config.units import parse_duration, parse_size
from watchd.daemon.clock_watch import watch_for_wakes
from watchd.daemon.runtime_files import state_folder_error
from watchd.flowcapture.client import FlowCaptureClient
from watchd.ingest.failures import RetryPolicy
from watchd.ingest.pipeline import Pipeline, PipelineSources, build_pipeline
from watchd.ingest.policy import FolderPolicy, TransferPolicy, files_at_once
from watchd.ingest.queueing import BatchRule, known_versions, queue_in
from watchd.store.database import Database, make_state_dir, sqlite_url
from watchd.store.migrate import upgrade
from watchd.store.models import Job, JobState
from watchd.store.transitions import RESUME, move_jobs

MAX_PARALLEL = 64  # parts in flight, as the daemon's config allows
# A failed file stays resumable: it is never marked failed for good, and the user
# runs the same command again to go on from its committed parts.
KEEP_RESUMABLE = RetryPolicy(
    max_attempts=1_000_000, backoff_initial_seconds=0, backoff_max_seconds=0
)
DEFAULT_BATCH = "watchd upload {date:%Y-%m-%d}"
PROCESSING_PATIENCE_SECONDS = 120.0  # wait for an upload presumed complete to be listed
PROCESSING_POLL_SECONDS = 2.0
RESUMABLE_STATES = (JobState.WAITING, JobState.FAILED, JobState.CANCELLED)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "upload",
        help="upload files or folders now (resumable: run it again after an interruption)",
        description="Upload FILEs, and the files in FOLDERs (a camera card, say: the whole "
        "tree, without junk, hidden files or ascmhl/), into the Flow Capture folder --folder "
        "(an id or 'Production/Folder/Sub'; by default the folder the API key is tied to) "
        "as one batch, with the daemon's resumable engine; "
        "run the same command again to resume.",
    )
    add_api_arguments(parser)
    parser.add_argument("paths", nargs="+", type=Path, metavar="FILE_OR_FOLDER")
    parser.add_argument(
        "--folder",
        help="Flow Capture folder: id or path (default: the folder the API key is tied to)",
    )
    parser.add_argument("--batch", help="batch name (default: 'watchd upload DATE')")
    parser.add_argument("--tag", action="append", default=[], help="a tag (repeatable)")
    parser.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE")
    for option, what in (("--include", "only files matching"), ("--exclude", "no files matching")):
        parser.add_argument(
            option,
            action="append",
            default=[],
            metavar="GLOB",
            help=f"in folders, {what} GLOB (repeatable; matched on the name, or on the path "
            "below the folder if GLOB has a /; case-insensitive)",
        )
    parser.add_argument(
        "--wait",
        action="store_true",
        help="after the upload, wait until Flow Capture has processed the files and lists them",
    )
    parser.add_argument(
        "--wait-timeout",
        default=DEFAULT_WAIT_TIMEOUT,
        metavar="DURATION",
        help=f"how long --wait waits, e.g. 90s, 1h (default {DEFAULT_WAIT_TIMEOUT})",
    )
    parser.add_argument("--part-size", default="16MiB", help="part size (default 16MiB)")
    parser.add_argument(
        "--parallel", type=int, default=8, help="parts of one file in flight (default 8)"
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=DEFAULT_CONNECTIONS,
        help="requests in flight, all files together, to each host (part PUTs, API calls "
        f"of the upload flow); twice as many files go up side by side (default "
        f"{DEFAULT_CONNECTIONS})",
    )
    parser.add_argument("--state-dir", type=Path, help="where the resumable state is kept")
    parser.set_defaults(func=run)


@reports_failures
def run(args: argparse.Namespace) -> int:
    sources = _sources(args)
    wait_seconds = _wait_seconds(args)
    stop = StopToken()
    awake = StopToken()  # ends the wake watch
    previous = signal.signal(signal.SIGINT, lambda *_: stop.stop("interrupted"))
    missing: set[int] | None = None  # assets not listed after --wait; None: not waited for
    try:
        transfer = _transfer(args)
        pool = transfer.connections + transfer.parallel_files + 4
        with make_client(args, pool_size=pool) as client:
            # A laptop closed mid-upload wakes with dead connections: cut, sent again.
            watch_for_wakes(client.transport.interrupt, awake)
            project_id = resolve_folder(client, args.folder)
            where = args.folder or f"the API key's folder (id {project_id})"
            print(f"watchd upload: {describe(sources)} to {where}", file=sys.stderr)
            rows = _upload(args, client, project_id, sources, transfer, stop)
            if wait_seconds is not None and not stop.stopped:
                missing = wait_for_listing(client, project_id, rows, wait_seconds, stop)
    finally:
        awake.stop("the upload is over")
        signal.signal(signal.SIGINT, previous)
    if stop.stopped:
        uploaded = all(row["state"] == "done" for row in rows)
        print(
            "watchd upload: interrupted"
            + (
                " while waiting; the files are uploaded and processing in Flow Capture"
                if uploaded
                else "; run the same command again to resume"
            ),
            file=sys.stderr,
        )
        return 130
    return show_outcome(args, rows, missing, wait_seconds)


def _sources(args: argparse.Namespace) -> Sources:
    try:
        return collect(args.paths, args.include, args.exclude)
    except UploadSourceError as exc:
        raise CommandError(str(exc)) from None


def _wait_seconds(args: argparse.Namespace) -> float | None:
    """Return how long to wait for the assets to be listed; None without --wait."""
    if not args.wait:
        return None
    try:
        return parse_duration(args.wait_timeout)
    except ValueError as exc:
        raise CommandError(f"--wait-timeout: {exc}") from None


def _upload(
    args: argparse.Namespace,
    client: FlowCaptureClient,
    project_id: int,
    sources: Sources,
    transfer: TransferPolicy,
    stop: StopToken,
) -> list[dict[str, object]]:
    """Upload ``sources`` as one batch and return a row per file (see ``_report``)."""
    db = _database(args)
    try:
        upgrade(db.engine)
        policy = _policy(args, project_id)
        job_ids = _jobs_for(db, policy, sources.files)
        _run_all(db, client, policy, job_ids, sources.total_bytes, transfer, stop)
        return _report(db, job_ids)
    finally:
        db.close()


def _database(args: argparse.Namespace) -> Database:
    """Return the state database, creating its state folder as the daemon would.

    A config naming a shared database gives its password file too. Raises
    CommandError if the state folder cannot be created.
    """
    if args.state_dir is not None:
        return Database(sqlite_url(_state_dir(args.state_dir)))
    if not args.email and args.config.exists():
        config = load_config(args.config)
        if config.database is not None:
            return Database(config.database, password_file=database_password_file(config))
        return Database(sqlite_url(_state_dir(config.state_dir)))
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return Database(sqlite_url(_state_dir(base / "watchd")))


def _state_dir(path: Path) -> Path:
    """Create the state folder ``path`` if needed; return it. Raises CommandError."""
    try:
        make_state_dir(path)
    except OSError as exc:
        raise CommandError(str(state_folder_error(path, exc))) from None
    return path


def _policy(args: argparse.Namespace, project_id: int) -> FolderPolicy:
    fields = {}
    for pair in args.meta:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CommandError(f"--meta {pair!r} is not KEY=VALUE")
        fields[key.strip()] = value
    template = args.batch.replace("{", "{{").replace("}", "}}") if args.batch else DEFAULT_BATCH
    return FolderPolicy(
        name=f"upload:{project_id}",
        root=Path("/"),
        project_id=project_id,
        batch_template=template,
        batch_idle_seconds=0,
        tags=tuple(args.tag),
        fields=fields,
    )


def _jobs_for(db: Database, policy: FolderPolicy, sources: list[SourceFile]) -> list[int]:
    """Return each file's job: resumed if its version is known, else new (one commit)."""
    files = [
        SettledFile(policy.name, f.path, f.relpath, Fingerprint.of(f.path.stat())) for f in sources
    ]
    rule = BatchRule(project_id=policy.project_id, template=policy.batch_template)
    now = SYSTEM_CLOCK.now()
    with db.transaction() as session:
        found = known_versions(session, files)
        known = [found.get(str(file.path)) for file in files]
        ids = [job.id for job in known if job is not None]
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
        return ids


def _transfer(args: argparse.Namespace) -> TransferPolicy:
    try:
        part_size = parse_size(args.part_size)
    except ValueError as exc:
        raise CommandError(f"--part-size: {exc}") from None
    for option, value in (("--parallel", args.parallel), ("--connections", args.connections)):
        if not 1 <= value <= MAX_PARALLEL:
            raise CommandError(f"{option} must be between 1 and {MAX_PARALLEL}")
    return TransferPolicy(
        part_size=part_size,
        parallel_files=files_at_once(None, args.connections),
        parallel_parts=args.parallel,
        connections=args.connections,
    )


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


def _report(db: Database, job_ids: list[int]) -> list[dict[str, object]]:
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
            }
            for job in jobs
        ]
