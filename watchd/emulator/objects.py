"""The object store shared by the S3 port and the Flow Capture API: objects,
multipart uploads and their parts, with S3's validation rules."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from watchd.emulator.blobs import BlobDir, Received
from watchd.emulator.errors import EmulatorError
from watchd.emulator.records import from_dict, to_dict

MIN_PART_BYTES = 5 * 1024 * 1024  # S3: every part but the last is at least 5 MiB
MAX_PART_NUMBER = 10_000  # S3: part numbers run from 1 to 10,000


@dataclass
class ObjectInfo:
    """An object's metadata; ``etag`` is unquoted ("hex" or "hex-N" for multipart)."""

    bucket: str
    key: str
    size: int
    etag: str
    stored: bool
    modified: float


@dataclass
class PartInfo:
    """One uploaded part of a multipart upload."""

    part_number: int
    size: int
    etag: str
    modified: float


@dataclass
class MultipartUpload:
    """An open multipart upload."""

    upload_id: str
    bucket: str
    key: str
    initiated: float
    parts: dict[int, PartInfo] = field(default_factory=dict)


def normalize_etag(etag: str) -> str:
    """Return an ETag without quotes, lower-case (S3 accepts both forms)."""
    return etag.strip().strip('"').lower()


def no_such_upload(upload_id: str) -> EmulatorError:
    """Return S3's error for an unknown, aborted or completed upload."""
    return EmulatorError(
        404, "NoSuchUpload", f"The specified multipart upload does not exist: {upload_id}"
    )


class ObjectStore:
    """Thread-safe index of objects and multipart uploads over a :class:`BlobDir`."""

    def __init__(self, root: Path, discard: bool, clock: Callable[[], float] = time.time) -> None:
        self.blobs = BlobDir(root, discard)
        self.discard = discard
        self._clock = clock
        self._lock = threading.Lock()
        self._objects: dict[tuple[str, str], ObjectInfo] = {}
        self._uploads: dict[str, MultipartUpload] = {}

    def create_upload(self, bucket: str, key: str) -> MultipartUpload:
        """Start a multipart upload and return it."""
        upload = MultipartUpload(secrets.token_urlsafe(36), bucket, key, self._clock())
        with self._lock:
            self._uploads[upload.upload_id] = upload
        return upload

    def get_upload(self, upload_id: str) -> MultipartUpload:
        """Return a copy of an open upload. Raises EmulatorError 404 NoSuchUpload."""
        with self._lock:
            upload = self._uploads.get(upload_id)
            if upload is None:
                raise no_such_upload(upload_id)
            return MultipartUpload(
                upload.upload_id, upload.bucket, upload.key, upload.initiated, dict(upload.parts)
            )

    def put_part(
        self,
        upload_id: str,
        part_number: int,
        chunks: Iterable[bytes | memoryview],
        md5: bytes | None,
    ) -> PartInfo:
        """Receive one part (replacing an earlier one) and return it.

        Raises EmulatorError: 404 NoSuchUpload, 400 BadDigest.
        """
        self.get_upload(upload_id)
        received = self.blobs.receive(chunks, md5)
        part = PartInfo(part_number, received.size, received.md5.hex(), self._clock())
        with self._lock:
            upload = self._uploads.get(upload_id)
            if upload is None:  # aborted or completed while the body arrived
                self.blobs.drop(received)
                raise no_such_upload(upload_id)
            self.blobs.place(received, self.blobs.part_path(upload_id, part_number))
            upload.parts[part_number] = part
        return part

    def put_object(
        self, bucket: str, key: str, chunks: Iterable[bytes | memoryview], md5: bytes | None
    ) -> ObjectInfo:
        """Receive a whole object (replacing any) and return its metadata."""
        received = self.blobs.receive(chunks, md5)
        return self._add_object(bucket, key, received, received.md5.hex())

    def _add_object(self, bucket: str, key: str, received: Received, etag: str) -> ObjectInfo:
        info = ObjectInfo(bucket, key, received.size, etag, not self.discard, self._clock())
        with self._lock:
            self.blobs.place(received, self.blobs.object_path(bucket, key))
            self._objects[(bucket, key)] = info
        return info

    def complete(self, upload_id: str, listed: list[tuple[int, str]]) -> ObjectInfo:
        """Assemble the listed ``(part_number, etag)`` parts into the object.

        Raises EmulatorError: 404 NoSuchUpload, 400 InvalidPart, InvalidPartOrder,
        EntityTooSmall or MalformedXML.
        """
        upload = self.get_upload(upload_id)
        parts = _validated_parts(upload, listed)
        digests = b"".join(bytes.fromhex(p.etag) for p in parts)
        etag = f"{hashlib.md5(digests).hexdigest()}-{len(parts)}"  # noqa: S324
        size = sum(p.size for p in parts)
        dest = self.blobs.object_path(upload.bucket, upload.key)
        if not self.discard:
            self.blobs.concat([self.blobs.part_path(upload_id, p.part_number) for p in parts], dest)
        info = ObjectInfo(upload.bucket, upload.key, size, etag, not self.discard, self._clock())
        with self._lock:
            self._uploads.pop(upload_id, None)
            self._objects[(upload.bucket, upload.key)] = info
        self.blobs.remove_upload(upload_id)
        return info

    def abort(self, upload_id: str) -> None:
        """Discard an upload and its parts. Raises EmulatorError 404 NoSuchUpload."""
        with self._lock:
            if self._uploads.pop(upload_id, None) is None:
                raise no_such_upload(upload_id)
        self.blobs.remove_upload(upload_id)

    def head(self, bucket: str, key: str) -> ObjectInfo:
        """Return an object's metadata. Raises EmulatorError 404 NoSuchKey."""
        with self._lock:
            info = self._objects.get((bucket, key))
        if info is None:
            raise EmulatorError(404, "NoSuchKey", "The specified key does not exist.")
        return info

    def open(self, info: ObjectInfo) -> BinaryIO:
        """Open an object's bytes. Raises EmulatorError 404 when they were discarded."""
        if not info.stored:
            raise EmulatorError(
                404, "NoSuchKey", "object content was discarded (the emulator runs with --discard)"
            )
        try:
            return self.blobs.object_path(info.bucket, info.key).open("rb")
        except FileNotFoundError:
            raise EmulatorError(404, "NoSuchKey", "object content is missing on disk") from None

    def write_derived(
        self, bucket: str, key: str, chunks: Iterable[bytes | memoryview]
    ) -> ObjectInfo:
        """Store bytes generated by the emulator (e.g. proxies) as an object."""
        received = self.blobs.receive(chunks, None)
        return self._add_object(bucket, key, received, received.md5.hex())

    def list_objects(self, bucket: str, prefix: str = "") -> list[ObjectInfo]:
        """Return the bucket's objects under ``prefix`` in key order."""
        with self._lock:
            found = [
                i for (b, k), i in self._objects.items() if b == bucket and k.startswith(prefix)
            ]
        return sorted(found, key=lambda i: i.key)

    def delete(self, bucket: str, key: str) -> None:
        """Delete an object if present (S3 deletes are idempotent)."""
        with self._lock:
            info = self._objects.pop((bucket, key), None)
        if info is not None:
            self.blobs.remove(self.blobs.object_path(bucket, key))

    def buckets(self) -> list[str]:
        """Return the names of buckets holding objects, sorted."""
        with self._lock:
            return sorted({b for b, _ in self._objects})

    def uploads(self) -> list[MultipartUpload]:
        """Return copies of all open uploads."""
        with self._lock:
            ids = list(self._uploads)
        return [self.get_upload(i) for i in ids if i in self._uploads]

    def to_json(self) -> dict[str, Any]:
        """Return the index for ``state.json``."""
        with self._lock:
            return {
                "objects": [to_dict(i) for i in self._objects.values()],
                "uploads": [
                    {**to_dict(u), "parts": [to_dict(p) for p in u.parts.values()]}
                    for u in self._uploads.values()
                ],
            }

    def load_json(self, data: dict[str, Any]) -> None:
        """Restore the index written by :meth:`to_json`."""
        with self._lock:
            for item in data.get("objects", []):
                info = from_dict(ObjectInfo, item)
                self._objects[(info.bucket, info.key)] = info
            for item in data.get("uploads", []):
                parts = [from_dict(PartInfo, p) for p in item.get("parts", [])]
                upload = from_dict(MultipartUpload, {**item, "parts": {}})
                upload.parts = {p.part_number: p for p in parts}
                self._uploads[upload.upload_id] = upload


def _validated_parts(upload: MultipartUpload, listed: list[tuple[int, str]]) -> list[PartInfo]:
    if not listed:
        raise EmulatorError(400, "MalformedXML", "at least one part must be listed")
    by_etag = {p.etag: n for n, p in upload.parts.items()}
    parts: list[PartInfo] = []
    for number, etag in listed:
        if parts and number <= parts[-1].part_number:
            raise EmulatorError(400, "InvalidPartOrder", "parts must be listed in ascending order")
        part = upload.parts.get(number)
        wanted = normalize_etag(etag)
        if part is None or part.etag != wanted:
            other = by_etag.get(wanted)
            if other is not None and other != number:
                raise EmulatorError(
                    400, "InvalidPartOrder", f"ETag given for part {number} is that of part {other}"
                )
            raise EmulatorError(
                400, "InvalidPart", f"part {number} was not uploaded or its ETag does not match"
            )
        parts.append(part)
    for part in parts[:-1]:
        if part.size < MIN_PART_BYTES:
            raise EmulatorError(
                400,
                "EntityTooSmall",
                f"part {part.part_number} is {part.size} bytes; parts but the last need "
                f"{MIN_PART_BYTES}",
            )
    return parts
