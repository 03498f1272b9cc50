"""Multipart upload of one file: init, parts in parallel, complete.

:func:`upload_parts` is the resumable core: it skips parts that already have an
ETag and reports each new ETag through ``on_part_done`` so a caller (the
daemon) can commit it before the part counts as done. :func:`upload_file` is
the whole flow for a one-shot upload.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from watchd.base.stop import StopToken
from watchd.flowcapture.backoff import backoff_seconds
from watchd.flowcapture.budget import UNLIMITED, TransferBudgets, holding
from watchd.flowcapture.client import FlowCaptureClient
from watchd.flowcapture.errors import (
    DigestMismatchError,
    FlowCaptureError,
    IntegrityError,
    PresignedUrlExpiredError,
    RateLimitedError,
)
from watchd.flowcapture.filedata import FileRange, PartData, md5_base64, range_md5
from watchd.flowcapture.models import UploadSession
from watchd.flowcapture.part_pipeline import PartPipeline
from watchd.flowcapture.parts import Part, choose_part_size, plan_parts
from watchd.flowcapture.retry_log import log_retry

log = logging.getLogger(__name__)

DEFAULT_PART_BYTES = 16 * 1024 * 1024  # part size when the caller has no preference
PART_ATTEMPTS = 4  # tries of one part before its failure is handed to the caller
PART_BACKOFF_INITIAL_SECONDS = 1.0  # first wait between tries of a part
PART_BACKOFF_MAX_SECONDS = 15.0  # longest wait between tries of a part
PRESIGNED_URL_REFRESHES = 3  # fresh URLs requested for one try when they keep expiring
MAX_BUFFERED_PART_BYTES = 64 * 1024 * 1024  # bigger parts are streamed from disk (read twice)

Progress = Callable[[int, int], None]  # (bytes done, bytes in total)


class PartChangedError(IntegrityError):
    """A part's bytes on disk no longer match what was hashed: the source is being written."""

    retryable = False  # the file is checked and queued again once it settles


@dataclass(frozen=True)
class PartResult:
    """A part the object store accepted."""

    number: int
    size: int
    md5: str  # base64, as sent in Content-MD5
    etag: str  # as the object store returned it (quoted)
    seconds: float = 0.0  # from the start of the PUT that was accepted to its ETag


@dataclass(frozen=True)
class UploadResult:
    """A completed multipart upload."""

    asset_id: int
    upload: UploadSession
    etags: list[str]
    size: int


class ProgressMeter:
    """Adds up bytes moved by several threads and reports (done, total)."""

    def __init__(self, total: int, callback: Progress | None, done: int = 0):
        self.total = total
        self.done = done
        self._callback = callback
        self._lock = threading.Lock()

    def add(self, amount: int) -> None:
        with self._lock:
            self.done += amount
            done = self.done
        if self._callback is not None:
            self._callback(done, self.total)


def upload_part(
    client: FlowCaptureClient,
    upload: UploadSession,
    path: Path,
    part: Part,
    *,
    on_bytes: Callable[[int], None] | None = None,
    stop: StopToken | None = None,
    budgets: TransferBudgets = UNLIMITED,
) -> PartResult:
    """Send one part: MD5, presigned URL, PUT with Content-MD5; return its ETag.

    A part up to ``MAX_BUFFERED_PART_BYTES`` is read once, into memory held
    from ``budgets.memory``, and hashed and sent from there; a bigger one is
    hashed in a first pass and streamed from disk in a second. The URL call
    holds a slot of ``budgets.calls``, the PUT one of ``budgets.puts``. Retries
    retryable failures (an expired URL, a reset connection, a 5xx, a damaged
    body) a few times; raises the last FlowCaptureError otherwise, or
    OSError/EOFError if the file can no longer be read as planned. Waits
    between tries end early, raising Stopped, when ``stop`` is set.
    """
    if part.size > MAX_BUFFERED_PART_BYTES:
        md5 = md5_base64(range_md5(path, part.offset, part.size))
        return _send_part(client, upload, path, part, md5, None, on_bytes, stop, budgets)
    with holding(budgets.memory, part.size, stop):
        data = PartData(path, part.offset, part.size)
        try:
            return _send_part(client, upload, path, part, data.md5, data, on_bytes, stop, budgets)
        finally:
            data.release()


def _send_part(
    client: FlowCaptureClient,
    upload: UploadSession,
    path: Path,
    part: Part,
    md5: str,
    data: PartData | None,
    on_bytes: Callable[[int], None] | None,
    stop: StopToken | None,
    budgets: TransferBudgets = UNLIMITED,
    url: str | None = None,
) -> PartResult:
    """Send one part whose MD5 is known, trying again as upload_part says.

    ``url``: a presigned URL already asked for this part (the first try uses it).
    """
    attempt = 0
    reread = False  # a part refused for its digest is read again once
    while True:
        sent = 0

        def count(amount: int) -> None:
            nonlocal sent
            sent += amount
            if on_bytes is not None:
                on_bytes(amount)

        started = time.monotonic()
        try:
            etag = _put_part(client, upload, path, part, md5, data, count, stop, budgets, url)
            seconds = time.monotonic() - started
            return PartResult(part.number, part.size, md5, etag, seconds)
        except FlowCaptureError as exc:
            if on_bytes is not None and sent:
                on_bytes(-sent)  # those bytes will be sent again
            attempt += 1
            if stop is not None:
                stop.check()  # a stop cut the request: no retry, no "trying again" line
            if isinstance(exc, DigestMismatchError):
                if reread:
                    raise PartChangedError(
                        f"part {part.number} of {path} was refused twice for its digest "
                        "(MD5 of the bytes sent); the file is changing while it is read"
                    ) from exc
                reread = True
                _check_part_unchanged(path, part, md5)
            if not exc.retryable or attempt >= PART_ATTEMPTS:
                raise
            delay = _part_retry_delay(exc, attempt)
            log_retry(
                log,
                exc,
                "part %d of %s failed (%s); trying again in %.1fs",
                part.number,
                path,
                exc,
                delay,
            )
            if stop is not None:
                stop.sleep(delay)
            else:
                time.sleep(delay)
        url = None  # a retry asks for a fresh URL


def _check_part_unchanged(path: Path, part: Part, md5: str) -> None:
    """Hash the part on disk again; raise PartChangedError if it no longer has ``md5``.

    The object store refused the part because its bytes did not hash to the
    MD5 they were announced with: either they were damaged on the way (send
    the same bytes again) or the file changed under the read.
    """
    now = md5_base64(range_md5(path, part.offset, part.size))
    if now != md5:
        raise PartChangedError(
            f"part {part.number} of {path} reads differently now (MD5 {md5} then {now}); "
            "the file is changing while it is read"
        )


def _put_part(
    client: FlowCaptureClient,
    upload: UploadSession,
    path: Path,
    part: Part,
    md5: str,
    data: PartData | None,
    on_read: Callable[[int], None],
    stop: StopToken | None,
    budgets: TransferBudgets,
    prefetched: str | None = None,
) -> str:
    for _ in range(PRESIGNED_URL_REFRESHES):
        url = prefetched
        if url is None:
            url = client.upload_part_url(upload, part.number, md5, stop=stop, calls=budgets.calls)
        prefetched = None
        try:
            with holding(budgets.puts, 1, stop):
                if data is not None:
                    body = data.body(on_read)
                    response = client.transport.put(url, body, part.size, {"Content-MD5": md5})
                else:
                    with FileRange(path, part.offset, part.size, on_read) as stream:
                        headers = {"Content-MD5": md5}
                        response = client.transport.put(url, stream, part.size, headers)
        except PresignedUrlExpiredError:
            log.info("presigned URL for part %d of %s expired; asking again", part.number, path)
            continue
        etag = response.headers.get("ETag")
        if not etag:
            raise IntegrityError(f"object store returned no ETag for part {part.number}")
        return etag
    raise PresignedUrlExpiredError(f"presigned URLs for part {part.number} kept expiring")


def _part_retry_delay(exc: FlowCaptureError, attempt: int) -> float:
    if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
        return exc.retry_after
    return backoff_seconds(
        attempt, initial=PART_BACKOFF_INITIAL_SECONDS, cap=PART_BACKOFF_MAX_SECONDS
    )


def upload_parts(
    client: FlowCaptureClient,
    upload: UploadSession,
    path: Path,
    parts: Sequence[Part],
    *,
    done: Mapping[int, str] | None = None,
    parallel: int = 4,
    on_part_done: Callable[[PartResult], None] | None = None,
    progress: Progress | None = None,
    on_chunk: Callable[[int], None] | None = None,
    stop: StopToken | None = None,
    budgets: TransferBudgets = UNLIMITED,
) -> dict[int, str]:
    """Send every part not in ``done`` (part number -> ETag), ``parallel`` at a time.

    ``on_part_done`` runs (in a worker thread) for each newly accepted part
    before it counts as done. ``on_chunk`` runs before each chunk of body is
    sent: it may block (bandwidth limit) or raise. When ``stop`` is set, no
    part starts, waits end, and the part in flight is abandoned at its next
    chunk (it is sent again next time); Stopped is raised. Returns every
    part's ETag by number. On the first failure no new part starts; the
    failure is raised once running parts end. Parts held in memory, PUTs
    and URL calls count against ``budgets`` (shared by every upload). A
    single part is sent from the calling thread.
    """
    etags = dict(done or {})
    total = sum(p.size for p in parts)
    meter = ProgressMeter(total, progress, sum(p.size for p in parts if p.number in etags))
    todo = [p for p in parts if p.number not in etags]
    failed = threading.Event()
    senders: set[int] = set()  # threads sending parts: their requests are cut on a stop

    def on_bytes(amount: int) -> None:
        if stop is not None and amount > 0:
            stop.check()
        if on_chunk is not None and amount > 0:
            on_chunk(amount)
        meter.add(amount)

    def run(part: Part) -> PartResult | None:
        if failed.is_set():
            return None
        senders.add(threading.get_ident())
        if stop is not None:
            stop.check()
        result = upload_part(
            client, upload, path, part, on_bytes=on_bytes, stop=stop, budgets=budgets
        )
        if on_part_done is not None:
            on_part_done(result)
        return result

    def send_prepared(part: Part, md5: str, data: PartData | None, url: str | None) -> PartResult:
        result = _send_part(client, upload, path, part, md5, data, on_bytes, stop, budgets, url)
        if on_part_done is not None:
            on_part_done(result)
        return result

    # A part whose body already sits in the socket buffers is past any chunk check: a
    # stop cuts the connections of the sending threads instead.
    def cut_senders() -> None:
        client.transport.interrupt(set(senders))

    results: list[object] = []

    forget = stop.on_stop(cut_senders) if stop is not None else None
    try:
        if len(todo) == 1:  # most files: no thread to start and join
            only = run(todo[0])
            assert only is not None  # nothing failed before it
            etags[only.number] = only.etag
            return etags
        pipeline = PartPipeline(
            client,
            upload,
            path,
            todo,
            parallel=parallel,
            send=send_prepared,
            max_buffered=MAX_BUFFERED_PART_BYTES,
            stop=stop,
            budgets=budgets,
        )
        senders = pipeline.senders
        results = pipeline.run()
    finally:
        if forget is not None:
            forget()
    for result in results:
        assert isinstance(result, PartResult)
        etags[result.number] = result.etag
    return etags


def upload_file(
    client: FlowCaptureClient,
    path: Path,
    *,
    project_id: int | None,
    filename: str | None = None,
    uuid: str | None = None,
    batch_name: str | None = None,
    part_size: int = DEFAULT_PART_BYTES,
    parallel_parts: int = 4,
    progress: Progress | None = None,
) -> UploadResult:
    """Upload one file as a new asset (init, parts, complete); return the asset id.

    ``project_id`` None leaves the folder to the key (an immediates connection).
    The caller still closes the batch with ``client.complete_upload``. On any
    failure the multipart upload is aborted (nothing here can resume it) and
    the error is raised.
    """
    name = filename or path.name
    size = path.stat().st_size
    parts = plan_parts(size, choose_part_size(size, part_size))
    upload = client.upload_init(project_id, name, uuid)
    try:
        etags = upload_parts(
            client, upload, path, parts, parallel=parallel_parts, progress=progress
        )
        if path.stat().st_size != size:
            raise IntegrityError(f"{path} changed size during the upload")
        ordered = [etags[p.number] for p in parts]
        asset_id = client.upload_complete(
            upload, ordered, filename=name, project_id=project_id, batch_name=batch_name, uuid=uuid
        )
    except BaseException:
        _abort_quietly(client, upload)
        raise
    return UploadResult(asset_id=asset_id, upload=upload, etags=ordered, size=size)


def _abort_quietly(client: FlowCaptureClient, upload: UploadSession) -> None:
    try:
        client.upload_abort(upload)
    except FlowCaptureError as exc:
        log.warning("could not abort upload %s: %s", upload.key, exc)
