"""Sending the parts of a big file with their presigned URLs asked for ahead.

Two stages: preparers read each part (once, into memory held from the byte
budget), hash it and ask for its presigned URL; senders PUT prepared parts.
The URL round trip of the next parts happens while earlier parts are on the
wire, so a long link stays full (a URL lives five minutes; a prepared part
waits at most as long as ``parallel`` parts take to send, and an expired URL
is simply asked for again). At most ``parallel`` parts wait prepared.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from watchd.base.stop import StopToken
from watchd.flowcapture.budget import TransferBudgets
from watchd.flowcapture.client import FlowCaptureClient
from watchd.flowcapture.filedata import PartData, md5_base64, range_md5
from watchd.flowcapture.models import UploadSession
from watchd.flowcapture.parts import Part

PREPARERS = 2  # threads reading, hashing and asking URLs ahead of the senders
QUEUE_POLL_SECONDS = 0.5  # waits on the prepared queue look at the stop token this often

SendPrepared = Callable[[Part, str, PartData | None, str | None], object]


@dataclass
class Prepared:
    """A part ready to send: its bytes (or None: streamed), MD5, a fresh URL."""

    part: Part
    md5: str
    data: PartData | None
    url: str | None
    held: int  # bytes held from the budget until the part has been sent


class PartPipeline:
    """Prepares and sends the parts of one file; ``run`` returns when all are done."""

    def __init__(
        self,
        client: FlowCaptureClient,
        upload: UploadSession,
        path: Path,
        parts: Sequence[Part],
        *,
        parallel: int,
        send: SendPrepared,
        max_buffered: int,
        stop: StopToken | None,
        budgets: TransferBudgets,
    ):
        self.client = client
        self.upload = upload
        self.path = path
        self.parts = list(parts)
        self.parallel = max(1, parallel)
        self.send = send  # (part, md5, data, url) -> result, trying again as it must
        self.max_buffered = max_buffered
        self.stop = stop
        self.budgets = budgets  # memory held here; ``send`` holds a PUT slot while it sends
        self.senders: set[int] = set()  # threads sending: a stop cuts their connections
        self._todo: queue.Queue[Part] = queue.Queue()
        for part in self.parts:
            self._todo.put(part)
        self._ready: queue.Queue[Prepared] = queue.Queue(maxsize=self.parallel)
        self._failed = threading.Event()
        self._errors: list[BaseException] = []
        self._results: list[object] = []
        self._lock = threading.Lock()
        self._left = len(self.parts)

    def run(self) -> list[object]:
        """Send every part; return what ``send`` returned for each. Raises the first error."""
        threads = [
            threading.Thread(target=self._guard, args=(self._prepare,), name="part-prep")
            for _ in range(min(PREPARERS, len(self.parts)))
        ] + [
            threading.Thread(target=self._guard, args=(self._send,), name="part-send")
            for _ in range(min(self.parallel, len(self.parts)))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self._release_unsent()
        if self._errors:
            raise self._errors[0]
        if self._left > 0:  # the threads ended early without an error: only a stop does that
            if self.stop is not None:
                self.stop.check()  # raises Stopped
            raise RuntimeError(f"{self._left} part(s) of {self.path} left unsent")
        return self._results

    def _guard(self, work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - handed to the caller of run()
            with self._lock:
                self._errors.append(exc)
            self._failed.set()

    def _going(self) -> bool:
        return not self._failed.is_set() and not (self.stop is not None and self.stop.stopped)

    def _prepare(self) -> None:
        while self._going():
            try:
                part = self._todo.get_nowait()
            except queue.Empty:
                return
            buffered = part.size <= self.max_buffered
            held = part.size if buffered and self.budgets.memory is not None else 0
            if held:
                self._hold(held)
            data = None
            try:
                data = PartData(self.path, part.offset, part.size) if buffered else None
                md5 = (
                    data.md5
                    if data is not None
                    else md5_base64(range_md5(self.path, part.offset, part.size))
                )
                url = self.client.upload_part_url(
                    self.upload, part.number, md5, stop=self.stop, calls=self.budgets.calls
                )
            except BaseException:
                self._give_back(held)
                if data is not None:
                    data.release()  # (its buffer back to the spares)
                raise
            self._put(Prepared(part, md5, data, url, held))

    def _hold(self, amount: int) -> None:
        assert self.budgets.memory is not None
        self.budgets.memory.acquire(amount, self.stop)

    def _give_back(self, amount: int) -> None:
        if amount and self.budgets.memory is not None:
            self.budgets.memory.release(amount)

    def _put(self, item: Prepared) -> None:
        while True:
            if not self._going():
                self._drop(item)
                return
            try:
                self._ready.put(item, timeout=QUEUE_POLL_SECONDS)
            except queue.Full:
                continue
            return

    def _send(self) -> None:
        self.senders.add(threading.get_ident())
        while self._going():
            with self._lock:
                if self._left <= 0:
                    return
            try:
                item = self._ready.get(timeout=QUEUE_POLL_SECONDS)
            except queue.Empty:
                continue
            try:
                result = self.send(item.part, item.md5, item.data, item.url)
            finally:
                self._drop(item)
                del item  # a sender waiting for its next part must not keep this one's bytes
            with self._lock:
                self._results.append(result)
                self._left -= 1

    def _release_unsent(self) -> None:
        while True:
            try:
                item = self._ready.get_nowait()
            except queue.Empty:
                return
            self._drop(item)

    def _drop(self, item: Prepared) -> None:
        """Give back a part's budget and its bytes, sent or not."""
        self._give_back(item.held)
        if item.data is not None:
            item.data.release()
