"""S3 multipart operations: create, upload part, list parts, complete, abort."""

from __future__ import annotations

import logging

from watchd.emulator import s3_xml
from watchd.emulator.errors import EmulatorError
from watchd.emulator.objects import MAX_PART_NUMBER, MultipartUpload, no_such_upload
from watchd.emulator.s3_base import S3Base

log = logging.getLogger(__name__)

MAX_COMPLETE_BODY_BYTES = 4 * 1024 * 1024  # 10,000 parts of XML fit easily


class MultipartOps(S3Base):
    """Multipart upload operations (mixed into the S3 handler)."""

    def _upload_for(self, bucket: str, key: str, query: dict[str, str]) -> MultipartUpload:
        upload_id = query.get("uploadId", "")
        upload = self.ctx.store.get_upload(upload_id)
        if (upload.bucket, upload.key) != (bucket, key):
            raise no_such_upload(upload_id)
        return upload

    def create_upload(self, bucket: str, key: str) -> None:
        """CreateMultipartUpload."""
        upload = self.ctx.store.create_upload(bucket, key)
        self.send_xml(200, s3_xml.initiated(bucket, key, upload.upload_id))

    def upload_part(self, bucket: str, key: str, query: dict[str, str]) -> None:
        """UploadPart: stream the body into the part, checking Content-MD5."""
        if self.headers.get("x-amz-copy-source"):
            raise EmulatorError(501, "NotImplemented", "UploadPartCopy is not supported")
        number_text = query.get("partNumber", "")
        if not number_text.isdigit() or not 1 <= int(number_text) <= MAX_PART_NUMBER:
            raise EmulatorError(
                400,
                "InvalidArgument",
                f"Part number must be an integer between 1 and {MAX_PART_NUMBER}",
            )
        upload = self._upload_for(bucket, key, query)
        md5 = self.content_md5()
        checksums: dict[str, str] = {}
        part = self.ctx.store.put_part(
            upload.upload_id, int(number_text), self.body(checksums), md5
        )
        self.ctx.state.count_part_put(key, part.part_number)
        log.debug("part %d of %s received (%d bytes)", part.part_number, key, part.size)
        self.send_empty(200, {"ETag": s3_xml.quoted(part.etag), **checksums})

    def list_parts(self, bucket: str, key: str, query: dict[str, str]) -> None:
        """ListParts (one page with every part)."""
        self.send_xml(200, s3_xml.parts_list(self._upload_for(bucket, key, query)))

    def complete_upload(self, bucket: str, key: str, query: dict[str, str]) -> None:
        """CompleteMultipartUpload."""
        upload = self._upload_for(bucket, key, query)
        length = self.headers.get("Content-Length", "")
        if not length.isdigit() or int(length) > MAX_COMPLETE_BODY_BYTES:
            raise EmulatorError(400, "MalformedXML", "missing or oversized request body")
        self.send_continue()
        self.body_consumed = True
        listed = s3_xml.parse_complete(self.rfile.read(int(length)))
        info = self.ctx.store.complete(upload.upload_id, listed)
        location = f"{self.ctx.s3_base_url}/{bucket}/{key}"
        self.send_xml(200, s3_xml.completed(location, info))

    def abort_upload(self, bucket: str, key: str, query: dict[str, str]) -> None:
        """AbortMultipartUpload."""
        upload = self._upload_for(bucket, key, query)
        self.ctx.store.abort(upload.upload_id)
        self.send_empty(204)
