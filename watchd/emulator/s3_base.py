"""What every S3 operation needs: XML and error responses, the Content-MD5
header, and the streaming request body (with an optional injected reset)."""

from __future__ import annotations

import base64
import binascii
import logging
import secrets
from collections.abc import Iterator

from watchd.emulator import s3_xml
from watchd.emulator.errors import EmulatorError
from watchd.emulator.httpio import BaseHandler
from watchd.emulator.s3_body import Chunk, body_chunks

log = logging.getLogger(__name__)

RESET_BODY_BYTES_MAX = 8 * 1024 * 1024  # an injected reset happens after at most this many bytes
XML = "application/xml"


class S3Base(BaseHandler):
    """Helpers shared by the S3 operation mixins."""

    inject_reset = False  # set per request by the fault decision

    def lower_headers(self) -> dict[str, str]:
        """Return the request headers with lower-case names."""
        return {k.lower(): v for k, v in self.headers.items()}

    def send_xml(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        """Send an XML response."""
        self.respond(status, body, XML, headers)

    def send_empty(self, status: int, headers: dict[str, str] | None = None) -> None:
        """Send a response without a body."""
        self.respond(status, b"", XML, headers)

    def send_s3_error(self, exc: EmulatorError) -> None:
        """Send an S3 XML error document."""
        request_id = secrets.token_hex(8).upper()
        headers = {"x-amz-request-id": request_id}
        if exc.retry_after is not None:
            headers["Retry-After"] = str(max(0, round(exc.retry_after)))
        log.debug("%s %s -> %s %s", self.command, self.path_only, exc.status, exc.code)
        body = s3_xml.error(exc.code, exc.message, self.path_only, request_id)
        self.respond(exc.status, body, XML, headers, head_only=self.command == "HEAD")

    def content_md5(self) -> bytes | None:
        """Return the decoded Content-MD5 header, if sent.

        Raises:
            EmulatorError: 400 InvalidDigest when it is not base64 of 16 bytes.
        """
        value = self.headers.get("Content-MD5")
        if value is None:
            return None
        try:
            digest = base64.b64decode(value.strip(), validate=True)
        except (ValueError, binascii.Error):
            digest = b""
        if len(digest) != 16:
            raise EmulatorError(400, "InvalidDigest", "The Content-MD5 you specified is not valid.")
        return digest

    def body(self, checksums: dict[str, str]) -> Iterator[Chunk]:
        """Return the request body as chunks, having sent 100 Continue if awaited.

        If the body breaks off (or a reset is injected) the connection is closed.
        """
        self.send_continue()
        self.body_consumed = True
        keep = self.close_connection
        self.close_connection = True  # until the body has been read to its end
        chunks = body_chunks(self.rfile, self.lower_headers(), self.ctx.throttle, checksums)
        return self._tracked(chunks, keep)

    def _tracked(self, chunks: Iterator[Chunk], close_after: bool) -> Iterator[Chunk]:
        received = 0
        limit = self._reset_point() if self.inject_reset else None
        for chunk in chunks:
            if limit is not None and received + len(chunk) >= limit:
                self.reset_connection()
            received += len(chunk)
            yield chunk
        self.close_connection = close_after

    def _reset_point(self) -> int:
        length = str(
            self.headers.get("x-amz-decoded-content-length")
            or self.headers.get("Content-Length")
            or "0"
        )
        size = int(length) if length.isdigit() else 0
        return max(1, min(size // 2, RESET_BODY_BYTES_MAX))
