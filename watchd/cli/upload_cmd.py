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
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from watchd.base.stop import StopToken
from watchd.cli.api_access import (
    CommandError,
    add_api_arguments,
    make_client,
    reports_failures,
    resolve_folder,
)
from watchd.cli.upload_files import Sources, UploadSourceError, collect, describe
from watchd.cli.upload_output import show_outcome
from watchd.cli.upload_wait import DEFAULT_WAIT_TIMEOUT, wait_for_listing
from watchd.config.limits import DEFAULT_CONNECTIONS, MAX_PARALLEL
from watchd.config.units import parse_duration, parse_size
from watchd.daemon.clock_watch import watch_for_wakes
from watchd.flowcapture.client import FlowCaptureClient
from watchd.ingest.policy import TransferPolicy, files_at_once

if TYPE_CHECKING:
    from watchd.cli.upload_jobs import UploadState


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
    transfer = _transfer(args)
    stop = StopToken()
    awake = StopToken()  # ends the wake watch
    previous = signal.signal(signal.SIGINT, lambda *_: stop.stop("interrupted"))
    missing: set[int] | None = None  # assets not listed after --wait; None: not waited for
    try:
        pool = transfer.connections + transfer.parallel_files + 4
        with make_client(args, pool_size=pool) as client:
            # A laptop closed mid-upload wakes with dead connections: cut, sent again.
            watch_for_wakes(client.transport.interrupt, awake)
            state, project_id = _open_while_looking_up(args, client)
            try:
                where = args.folder or f"the API key's folder (id {project_id})"
                print(f"watchd upload: {describe(sources)} to {where}", file=sys.stderr)
                rows = state.upload(args, client, project_id, sources, transfer, stop)
            finally:
                state.close()
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


def _open_while_looking_up(
    args: argparse.Namespace, client: FlowCaptureClient
) -> tuple[UploadState, int]:
    """Open the state database on a thread of its own while the login and the folder
    lookup wait on the network; return it and the folder id (both, or raise)."""
    with ThreadPoolExecutor(1, thread_name_prefix="state") as opening:
        state = opening.submit(_open_state, args)
        try:
            project_id = resolve_folder(client, args.folder)
        except BaseException:
            if state.exception() is None:  # (waits for it)
                state.result().close()
            raise
        return state.result(), project_id


def _open_state(args: argparse.Namespace) -> UploadState:
    # Imported here, on the opening thread: SQLAlchemy, the store and the pipeline.
    from watchd.cli.upload_jobs import UploadState  # noqa: PLC0415 - see above

    return UploadState.open(args)


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
