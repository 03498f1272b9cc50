"""S3 object and bucket operations: Put/Get/Head/Delete object, ListObjectsV2,
ListBuckets and the bucket no-ops (any bucket name exists)."""

from __future__ import annotations

import contextlib
import email.utils
import re
import time
from typing import BinaryIO

from watchd.emulator import s3_xml
from watchd.emulator.errors import EmulatorError
from watchd.emulator.objects import ObjectInfo
from watchd.emulator.s3_base import S3Base

SEND_CHUNK_BYTES = 1024 * 1024  # GET bodies are written in chunks of this size
MAX_KEYS_DEFAULT = 1000
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """Return the inclusive byte range asked for, or None for the whole object.

    Raises:
        EmulatorError: 416 InvalidRange when the range lies outside the object.
    """
    match = _RANGE.match((header or "").strip())
    if not match or (not match.group(1) and not match.group(2)):
        return None  # absent, multi-range or malformed: serve everything, as S3 does
    first, last = match.group(1), match.group(2)
    if not first:
        start, end = max(0, size - int(last)), size - 1
        if int(last) == 0:
            start = size
    else:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
        if last and int(last) < start:
            return None
    if start >= size or end < start:
        raise EmulatorError(416, "InvalidRange", "The requested range is not satisfiable")
    return start, end


class ObjectOps(S3Base):
    """Object-level S3 operations (mixed into the S3 handler)."""

    def object_headers(self, info: ObjectInfo) -> dict[str, str]:
        """Return the metadata headers of an object response."""
        return {
            "ETag": s3_xml.quoted(info.etag),
            "Last-Modified": email.utils.formatdate(info.modified, usegmt=True),
            "Accept-Ranges": "bytes",
        }

    def put_object(self, bucket: str, key: str) -> None:
        """PutObject."""
        if self.headers.get("x-amz-copy-source"):
            raise EmulatorError(501, "NotImplemented", "CopyObject is not supported")
        md5 = self.content_md5()
        checksums: dict[str, str] = {}
        info = self.ctx.store.put_object(bucket, key, self.body(checksums), md5)
        self.send_empty(200, {"ETag": s3_xml.quoted(info.etag), **checksums})

    def get_object(self, bucket: str, key: str, head_only: bool) -> None:
        """GetObject and HeadObject, with a single byte range."""
        info = self.ctx.store.head(bucket, key)
        try:
            span = parse_range(self.headers.get("Range"), info.size)
        except EmulatorError:
            self.respond(416, b"", "application/xml", {"Content-Range": f"bytes */{info.size}"})
            return
        start, end = span if span else (0, info.size - 1)
        length = max(0, end - start + 1)
        with contextlib.ExitStack() as stack:  # closed too if an after-fault replaces the answer
            source = None if head_only else stack.enter_context(self.ctx.store.open(info))
            self.send_response(206 if span else 200)
            headers = self.object_headers(info)
            if span:
                headers["Content-Range"] = f"bytes {start}-{end}/{info.size}"
            headers["Content-Type"] = "application/octet-stream"
            headers["Content-Length"] = str(length)
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if source is not None:
                source.seek(start)
                self._send_stream(source, length)

    def _send_stream(self, source: BinaryIO, length: int) -> None:
        sent = 0
        reset_at = max(1, length // 2) if self.inject_reset else None
        while sent < length:
            size = self.ctx.throttle.chunk_size(SEND_CHUNK_BYTES)
            data = source.read(min(size, length - sent))
            if not data:
                raise ConnectionError("object shrank while being sent")
            if reset_at is not None and sent + len(data) >= reset_at:
                self.wfile.write(data[: max(0, reset_at - sent)])
                self.reset_connection()
            self.ctx.throttle.consume(len(data))
            self.wfile.write(data)
            sent += len(data)

    def delete_object(self, bucket: str, key: str) -> None:
        """DeleteObject (idempotent)."""
        self.ctx.store.delete(bucket, key)
        self.send_empty(204)

    def list_objects(self, bucket: str, query: dict[str, str]) -> None:
        """ListObjectsV2 (also answers V1 requests in the V2 shape)."""
        prefix = query.get("prefix", "")
        delimiter = query.get("delimiter") or None
        try:
            max_keys = int(query.get("max-keys", MAX_KEYS_DEFAULT))
        except ValueError:
            raise EmulatorError(400, "InvalidArgument", "max-keys must be an integer") from None
        after = (
            query.get("continuation-token") or query.get("start-after") or query.get("marker", "")
        )
        objects: list[ObjectInfo] = []
        prefixes: list[str] = []
        seen: set[str] = set()
        next_token = None
        for info in self.ctx.store.list_objects(bucket, prefix):
            if info.key <= after:
                continue
            if len(objects) + len(prefixes) >= max_keys:
                next_token = objects[-1].key if objects else prefixes[-1]
                break
            rest = info.key[len(prefix) :]
            if delimiter and delimiter in rest:
                common = prefix + rest.split(delimiter, 1)[0] + delimiter
                if common not in seen:
                    seen.add(common)
                    prefixes.append(common)
                continue
            objects.append(info)
        body = s3_xml.objects_list(
            bucket, prefix, objects, prefixes, max_keys, next_token, delimiter
        )
        self.send_xml(200, body)

    def list_buckets(self) -> None:
        """ListBuckets: every bucket that holds an object."""
        self.send_xml(200, s3_xml.buckets_list(self.ctx.store.buckets(), time.time()))
