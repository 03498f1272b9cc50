"""Reading a byte range of a file: its MD5, and a streaming body for a PUT."""

from __future__ import annotations

import base64
import hashlib
import mmap
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from watchd.flowcapture.buffers import PART_BUFFERS, BufferPool

READ_CHUNK_BYTES = 1024 * 1024  # one read from disk while hashing or sending


def range_md5(path: Path, offset: int, size: int) -> bytes:
    """Return the binary MD5 of ``size`` bytes of ``path`` from ``offset``.

    Raises OSError if the file cannot be read, and EOFError if it is shorter
    than the range (the file changed since it was measured).
    """
    digest = hashlib.md5()  # noqa: S324 - S3's Content-MD5 is MD5 by definition
    with path.open("rb") as handle:
        handle.seek(offset)
        left = size
        while left:
            chunk = handle.read(min(READ_CHUNK_BYTES, left))
            if not chunk:
                raise EOFError(f"{path} ended {left} bytes early")
            digest.update(chunk)
            left -= len(chunk)
    return digest.digest()


def md5_base64(digest: bytes) -> str:
    """Return an MD5 digest as the base64 text S3 wants in Content-MD5."""
    return base64.b64encode(digest).decode("ascii")


class FileRange:
    """A read-only, file-like view of ``size`` bytes of a file, for streaming a PUT body.

    ``on_read`` is called with each chunk's length as it is read (progress and
    bandwidth limiting hook in there). ``len()`` gives the size, so the HTTP
    library sends a Content-Length instead of chunked encoding.
    """

    def __init__(
        self,
        path: Path,
        offset: int,
        size: int,
        on_read: Callable[[int], None] | None = None,
    ):
        self._handle: BinaryIO = path.open("rb")
        self._handle.seek(offset)
        self._left = size
        self._size = size
        self._on_read = on_read

    def __len__(self) -> int:
        return self._size

    def read(self, amount: int = -1) -> bytes:
        """Return up to ``amount`` bytes (all that is left when negative)."""
        if self._left <= 0:
            return b""
        if amount is None or amount < 0 or amount > self._left:
            amount = self._left
        chunk = self._handle.read(min(amount, READ_CHUNK_BYTES))
        if not chunk:
            raise EOFError(f"{self._handle.name} ended {self._left} bytes early")
        self._left -= len(chunk)
        if self._on_read is not None:
            self._on_read(len(chunk))
        return chunk

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> FileRange:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class PartData:
    """One part read from disk once: its MD5 and its bytes, sent from the same buffer.

    Reading each part once (instead of once to hash and again to send) is
    what keeps the CPU cost per GiB close to MD5's own. The caller bounds how
    many are held at once (a byte budget); the memory comes from ``pool`` and
    goes back there with :meth:`release`.
    """

    def __init__(self, path: Path, offset: int, size: int, pool: BufferPool = PART_BUFFERS):
        self.path = path
        self._pool = pool
        self._buffer: mmap.mmap | None = pool.take(size)
        self._size = size
        try:
            with memoryview(self._buffer)[:size] as view:
                _read_into(path, offset, view)
                digest = hashlib.md5(view).digest()  # noqa: S324 - S3's Content-MD5
        except BaseException:
            self.release()
            raise
        self.md5 = md5_base64(digest)

    def __len__(self) -> int:
        return self._size

    def body(self, on_read: Callable[[int], None] | None = None) -> BufferBody:
        """Return a fresh file-like body over the part's bytes (one per try)."""
        assert self._buffer is not None, "a released part has no body"
        return BufferBody(memoryview(self._buffer)[: self._size], on_read)

    def release(self) -> None:
        """Hand the memory back for the next part (once the part is sent or given up)."""
        buffer, self._buffer = self._buffer, None
        if buffer is not None:
            self._pool.give(buffer)


def _read_into(path: Path, offset: int, view: memoryview) -> None:
    """Fill ``view`` from ``path`` at ``offset``; raises EOFError if the file is shorter."""
    with path.open("rb", buffering=0) as handle:
        handle.seek(offset)
        filled = 0
        while filled < len(view):
            read = handle.readinto(view[filled : filled + READ_CHUNK_BYTES * 8])
            if not read:
                raise EOFError(f"{path} ended {len(view) - filled} bytes early")
            filled += read


class BufferBody:
    """A file-like body over bytes in memory: ``read`` hands out slices, never copies."""

    def __init__(self, view: memoryview, on_read: Callable[[int], None] | None):
        self._view = view
        self._position = 0
        self._on_read = on_read

    def __len__(self) -> int:
        return len(self._view)

    def read(self, amount: int = -1) -> memoryview:
        """Return up to ``amount`` bytes (all that is left when negative)."""
        left = len(self._view) - self._position
        if amount is None or amount < 0 or amount > left:
            amount = left
        chunk = self._view[self._position : self._position + min(amount, READ_CHUNK_BYTES)]
        self._position += len(chunk)
        if self._on_read is not None and len(chunk):
            self._on_read(len(chunk))
        return chunk
