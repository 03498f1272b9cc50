"""Download one asset category: start its tasks, wait for their URLs, fetch with resume.

The bytes go to ``<name>.part`` beside the final name and are renamed into
place only once the size checks, so a partial file never sits under the final
name. An interrupted transfer continues from where it stopped (HTTP Range).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from watchd.base.names import plain_text
from watchd.flowcapture.backoff import backoff_seconds
from watchd.flowcapture.client import FlowCaptureClient
from watchd.flowcapture.errors import (
    FlowCaptureError,
    IntegrityError,
    NotFoundError,
    PresignedUrlExpiredError,
    TransportError,
)
from watchd.flowcapture.models import DownloadTask, TaskMessage
from watchd.flowcapture.transport import Transport, iter_body

log = logging.getLogger(__name__)

PARTIAL_SUFFIX = ".part"  # a download in progress; watchd's own filters ignore it
TASK_POLL_SECONDS = 2.0  # how often /get/tasks/messages is asked while processing
TASK_TIMEOUT_SECONDS = 6 * 3600.0  # give up waiting for server-side processing after this
FETCH_ATTEMPTS = 6  # tries of one URL (each resuming) before giving up
FETCH_BACKOFF_INITIAL_SECONDS = 1.0
FETCH_BACKOFF_MAX_SECONDS = 30.0
_CONTENT_RANGE_RE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")

Progress = Callable[[int, int], None]  # (bytes done, bytes in total)
TaskProgress = Callable[[str], None]  # the server's progress text, e.g. "40%"


def wait_for_url(
    client: FlowCaptureClient,
    task: DownloadTask,
    *,
    on_progress: TaskProgress | None = None,
    poll_seconds: float = TASK_POLL_SECONDS,
    timeout_seconds: float = TASK_TIMEOUT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Return the download URL of a task, polling /get/tasks/messages while it processes.

    Raises FlowCaptureError when the task has neither URL nor task id, and
    TransportError when processing outlasts ``timeout_seconds``.
    """
    if not task.processing and task.url:
        return task.url
    if task.task_id is None:
        raise FlowCaptureError(f"download of asset {task.asset_id} has no URL and no task")
    deadline = clock() + timeout_seconds
    while True:
        message = _task_message(client.get_task_messages([task.task_id]), task.task_id)
        if message is not None:
            if on_progress is not None and message.progress:
                on_progress(message.progress)
            if message.direct_url:
                return message.direct_url
        if clock() >= deadline:
            raise TransportError(
                f"asset {task.asset_id}: still processing after {timeout_seconds}s"
            )
        sleep(poll_seconds)


def _task_message(messages: Sequence[TaskMessage], task_id: str | int) -> TaskMessage | None:
    for message in messages:
        if str(message.task_id) == str(task_id):
            return message
    return None


def fetch(
    transport: Transport,
    url: str,
    dest: Path,
    *,
    progress: Progress | None = None,
    refresh_url: Callable[[], str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Path:
    """Download ``url`` to ``dest``, resuming ``dest.part`` if present; return ``dest``.

    ``refresh_url`` gives a new URL when the old one expired. Raises
    IntegrityError when the size does not check, or the last FlowCaptureError.
    """
    partial = dest.with_name(dest.name + PARTIAL_SUFFIX)
    attempt = 0
    while True:
        try:
            total = _fetch_once(transport, url, partial, progress)
            break
        except PresignedUrlExpiredError:
            if refresh_url is None:
                raise
            url = refresh_url()
        except FlowCaptureError as exc:
            attempt += 1
            if not exc.retryable or attempt >= FETCH_ATTEMPTS:
                raise
            delay = backoff_seconds(
                attempt, initial=FETCH_BACKOFF_INITIAL_SECONDS, cap=FETCH_BACKOFF_MAX_SECONDS
            )
            log.warning("download of %s interrupted (%s); resuming in %.1fs", dest, exc, delay)
            sleep(delay)
    size = partial.stat().st_size
    if total is not None and size != total:
        raise IntegrityError(f"{partial} has {size} bytes, the server announced {total}")
    os.replace(partial, dest)
    return dest


def _fetch_once(
    transport: Transport, url: str, partial: Path, progress: Progress | None
) -> int | None:
    """Fetch the rest of ``url`` into ``partial``; return the total size announced."""
    have = partial.stat().st_size if partial.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        response = transport.get_stream(url, headers)
    except FlowCaptureError as exc:
        if exc.status == 416 and have:  # the partial file is already complete
            return have
        raise
    with response:
        total = _announced_total(response.headers, have)
        if response.status_code == 200:
            have = 0  # the server ignored the Range: start over
        done = have
        with partial.open("r+b" if have else "wb") as out:
            out.seek(have)
            out.truncate()
            for chunk in iter_body(response):
                out.write(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total or done)
            out.flush()
            os.fsync(out.fileno())
    return total


def _announced_total(headers: object, have: int) -> int | None:
    get = getattr(headers, "get")  # noqa: B009 - requests' case-insensitive mapping
    match = _CONTENT_RANGE_RE.match(get("Content-Range") or "")
    if match and match.group(3) != "*":
        return int(match.group(3))
    length = get("Content-Length")
    return int(length) if length and length.isdigit() else None


ProgressFor = Callable[[Path], Progress | None]  # a progress callback for each file's path


class DestinationExistsError(FlowCaptureError):
    """A file to download would replace one already there (nothing was fetched)."""


def download_files(
    client: FlowCaptureClient,
    asset_id: int,
    category: str,
    dest_dir: Path,
    *,
    non_watermarked: bool = False,
    overwrite: bool = False,
    progress_for: ProgressFor | None = None,
    on_task_progress: TaskProgress | None = None,
    poll_seconds: float = TASK_POLL_SECONDS,
) -> list[Path]:
    """Download every file of one category (ORIGINAL, a proxy) of an asset into ``dest_dir``.

    A category can have several files (a multi-file original): each entry of
    ``successful_processes`` is fetched, at the place its ``path`` names below
    ``dest_dir`` (see :func:`local_path`). Returns the final paths in the
    server's order. Raises NotFoundError (with the server's reason) when the
    download could not start, DestinationExistsError before anything is
    fetched when a file is already where one would go (unless ``overwrite``),
    or the error that stopped it.
    """
    tasks = _start(client, asset_id, category, non_watermarked)
    dests: list[Path] = []
    for task in tasks:
        dests.append(_unused(dest_dir / local_path(task, f"asset-{asset_id}-{category}"), dests))
    there = [dest for dest in dests if dest.exists() or dest.is_symlink()]
    if there and not overwrite:
        raise DestinationExistsError(
            f"{', '.join(map(str, there))} already there: not replaced "
            "(--overwrite replaces it, or choose another --dest)"
        )
    paths: list[Path] = []
    for task, dest in zip(tasks, dests, strict=True):

        def fresh_url(task: DownloadTask = task) -> str:
            again = _start(client, asset_id, category, non_watermarked)
            return wait_for_url(client, _same_file(again, task), poll_seconds=poll_seconds)

        progress = progress_for(dest) if progress_for is not None else None
        url = wait_for_url(client, task, on_progress=on_task_progress, poll_seconds=poll_seconds)
        dest.parent.mkdir(parents=True, exist_ok=True)
        paths.append(fetch(client.transport, url, dest, progress=progress, refresh_url=fresh_url))
    return paths


def download_asset(
    client: FlowCaptureClient,
    asset_id: int,
    category: str,
    dest_dir: Path,
    *,
    non_watermarked: bool = False,
    overwrite: bool = False,
    progress: Progress | None = None,
    on_task_progress: TaskProgress | None = None,
    poll_seconds: float = TASK_POLL_SECONDS,
) -> Path:
    """Download every file of one category, as :func:`download_files`; return the first path."""
    paths = download_files(
        client,
        asset_id,
        category,
        dest_dir,
        non_watermarked=non_watermarked,
        overwrite=overwrite,
        progress_for=(lambda _dest: progress) if progress is not None else None,
        on_task_progress=on_task_progress,
        poll_seconds=poll_seconds,
    )
    return paths[0]


def _start(
    client: FlowCaptureClient, asset_id: int, category: str, non_watermarked: bool
) -> list[DownloadTask]:
    answer = client.download_direct([asset_id], [category], non_watermarked=non_watermarked)
    for error in answer.errors:
        raise NotFoundError(f"asset {error.asset_id}: {error.error_message or 'refused'}")
    if not answer.successful_processes:
        raise NotFoundError(f"asset {asset_id}: no {category} file to download")
    return answer.successful_processes


def _same_file(tasks: Sequence[DownloadTask], wanted: DownloadTask) -> DownloadTask:
    """Return the entry of a repeated start that is the same file as ``wanted``."""
    for task in tasks:
        if (task.path, task.filename) == (wanted.path, wanted.filename):
            return task
    raise NotFoundError(f"asset {wanted.asset_id}: {wanted.filename} is no longer offered")


def _unused(dest: Path, taken: Sequence[Path]) -> Path:
    """Return ``dest``, or ``name-2.ext`` etc. when another file of this call took it."""
    candidate, number = dest, 1
    while candidate in taken:
        number += 1
        candidate = dest.with_name(f"{dest.stem}-{number}{dest.suffix}")
    return candidate


def local_path(task: DownloadTask, fallback_name: str) -> Path:
    """Return where a task's file goes, relative to the destination folder.

    Our reading of the document's ``path`` ("the file path"): a relative path
    that ends with the file's name (``A001/A001.mov``); a path that does not end
    with ``filename`` is taken as the folder to put it in. Absolute paths, ``.``
    and ``..`` are reduced to plain names, so the file stays below the folder.
    """
    name = safe_filename(task.filename or fallback_name)
    folders = [p for p in (task.path or "").replace("\\", "/").split("/") if p.strip(" .")]
    if folders and folders[-1] == name:
        folders.pop()
    return Path(*[safe_filename(p) for p in folders], name)


def safe_filename(name: str) -> str:
    """Return ``name`` reduced to a single path component that is safe to create."""
    base = plain_text(name).replace("\\", "/").rsplit("/", 1)[-1].strip()
    if base in ("", ".", ".."):
        return "download"
    return base
