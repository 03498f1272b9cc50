"""Bytes on disk: streaming receipt with MD5 into a temp file, atomic placement,
and streaming concatenation. In discard mode only sizes and digests are kept."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from watchd.emulator.errors import EmulatorError

log = logging.getLogger(__name__)

COPY_CHUNK_BYTES = 4 * 1024 * 1024  # read size when concatenating parts


@dataclass(frozen=True)
class Received:
    """A body that arrived whole with a known MD5; ``tmp_path`` is None when discarded."""

    size: int
    md5: bytes
    tmp_path: Path | None


class BlobDir:
    """The directory tree holding objects, parts and temp files."""

    def __init__(self, root: Path, discard: bool) -> None:
        self.root = root
        self.discard = discard
        self.tmp_dir = root / "tmp"
        for sub in ("tmp", "objects", "parts"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        for stale in self.tmp_dir.iterdir():  # left by a crash: never a committed part
            stale.unlink(missing_ok=True)

    def object_path(self, bucket: str, key: str) -> Path:
        """Return where an object's bytes live."""
        digest = hashlib.sha256(f"{bucket}/{key}".encode()).hexdigest()
        return self.root / "objects" / digest[:2] / digest

    def part_path(self, upload_id: str, part_number: int) -> Path:
        """Return where a multipart upload part's bytes live."""
        return self.upload_dir(upload_id) / f"{part_number:05d}.part"

    def upload_dir(self, upload_id: str) -> Path:
        """Return the directory of one multipart upload's parts."""
        return self.root / "parts" / hashlib.sha256(upload_id.encode()).hexdigest()[:40]

    def receive(self, chunks: Iterable[bytes | memoryview], expected_md5: bytes | None) -> Received:
        """Consume ``chunks``, computing the MD5; keep the bytes in a temp file.

        Raises:
            EmulatorError: 400 BadDigest when ``expected_md5`` is given and differs
                (nothing is kept). Errors from ``chunks`` propagate, also keeping nothing.
        """
        md5 = hashlib.md5()  # noqa: S324 - S3 semantics, not security
        size = 0
        handle = None
        if not self.discard:
            handle = tempfile.NamedTemporaryFile(dir=self.tmp_dir, delete=False)  # noqa: SIM115
        try:
            for chunk in chunks:
                md5.update(chunk)
                size += len(chunk)
                if handle is not None:
                    handle.write(chunk)
            if expected_md5 is not None and md5.digest() != expected_md5:
                raise EmulatorError(
                    400,
                    "BadDigest",
                    "The Content-MD5 you specified did not match what we received.",
                )
        except BaseException:
            if handle is not None:
                handle.close()
                Path(handle.name).unlink(missing_ok=True)
            raise
        if handle is None:
            return Received(size, md5.digest(), None)
        handle.close()
        return Received(size, md5.digest(), Path(handle.name))

    def place(self, received: Received, dest: Path) -> None:
        """Move a received temp file to ``dest``, replacing what was there."""
        if received.tmp_path is None:
            return
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(received.tmp_path, dest)

    def drop(self, received: Received) -> None:
        """Forget a received body that will not be placed."""
        if received.tmp_path is not None:
            received.tmp_path.unlink(missing_ok=True)

    def concat(self, sources: list[Path], dest: Path) -> None:
        """Write the concatenation of ``sources`` to ``dest`` (atomically, streaming)."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=self.tmp_dir, delete=False) as out:
            try:
                for source in sources:
                    with source.open("rb") as src:
                        shutil.copyfileobj(src, out, COPY_CHUNK_BYTES)
            except BaseException:
                out.close()
                Path(out.name).unlink(missing_ok=True)
                raise
        os.replace(out.name, dest)

    def remove_upload(self, upload_id: str) -> None:
        """Delete every part file of an upload."""
        shutil.rmtree(self.upload_dir(upload_id), ignore_errors=True)

    def remove(self, path: Path) -> None:
        """Delete one file if present."""
        path.unlink(missing_ok=True)
