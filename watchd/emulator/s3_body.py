"""Streaming request bodies for the S3 port: Content-Length, HTTP chunked and
AWS ``aws-chunked`` framing (as sent by modern botocore, with a trailing
checksum), read in large chunks under the shared bandwidth cap."""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterator, Mapping
from typing import Protocol

from watchd.emulator.errors import EmulatorError
from watchd.emulator.faults import Throttle

READ_CHUNK_BYTES = 1024 * 1024  # large reads keep MD5 and the socket efficient
MAX_LINE_BYTES = 4096  # chunk-size and trailer lines are short

Chunk = bytes | memoryview


class Source(Protocol):
    """A byte stream with ``read`` and ``readline`` (a socket file or a decoder)."""

    def read(self, size: int, /) -> bytes: ...

    def readline(self, size: int, /) -> bytes: ...


def incomplete() -> EmulatorError:
    """Return the error for a body that ended early."""
    return EmulatorError(400, "IncompleteBody", "the request body ended early")


class LengthReader:
    """Exactly ``length`` bytes of a source."""

    def __init__(self, source: Source, length: int) -> None:
        self.source = source
        self.remaining = length

    def read(self, size: int, /) -> bytes:
        if self.remaining <= 0:
            return b""
        data = self.source.read(min(size, self.remaining))
        if not data:
            raise incomplete()
        self.remaining -= len(data)
        return data

    def readline(self, size: int, /) -> bytes:
        if self.remaining <= 0:
            return b""
        line = self.source.readline(min(size, self.remaining))
        self.remaining -= len(line)
        return line


class ChunkedReader:
    """Decodes ``size[;ext]CRLF data CRLF ... 0 CRLF trailers CRLF`` framing,
    which HTTP chunked transfer coding and aws-chunked share."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self._left = 0
        self._done = False
        self.trailers: dict[str, str] = {}

    def _line(self) -> bytes:
        line = self._source.readline(MAX_LINE_BYTES)
        if not line.endswith(b"\n"):
            raise incomplete()
        return line.rstrip(b"\r\n")

    def _next_chunk(self) -> bool:
        """Read the next chunk header; return False at the end of the body."""
        head = self._line().split(b";", 1)[0].strip()
        try:
            self._left = int(head, 16)
        except ValueError:
            raise EmulatorError(400, "InvalidChunkSizeError", "bad chunk size line") from None
        if self._left == 0:
            self._done = True
            while line := self._line():
                name, _, value = line.decode("latin-1").partition(":")
                self.trailers[name.strip().lower()] = value.strip()
        return not self._done

    def read(self, size: int, /) -> bytes:
        if self._done:
            return b""
        if self._left == 0 and not self._next_chunk():
            return b""
        data = self._source.read(min(size, self._left))
        if not data:
            raise incomplete()
        self._left -= len(data)
        if self._left == 0 and self._line():
            raise EmulatorError(400, "InvalidChunkSizeError", "chunk data longer than its size")
        return data

    def readline(self, size: int, /) -> bytes:
        out = bytearray()
        while len(out) < size and not out.endswith(b"\n"):
            byte = self.read(1)
            if not byte:
                break
            out += byte
        return bytes(out)


def _decoder(source: Source, headers: Mapping[str, str]) -> tuple[Source, ChunkedReader | None]:
    """Return the reader of the payload and the aws-chunked decoder, if any."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        outer: Source = ChunkedReader(source)
    elif headers.get("content-length") is not None:
        try:
            outer = LengthReader(source, int(headers["content-length"]))
        except ValueError:
            raise EmulatorError(400, "InvalidArgument", "bad Content-Length") from None
    else:
        raise EmulatorError(411, "MissingContentLength", "You must provide the Content-Length")
    encoding = headers.get("content-encoding", "").lower()
    sha = headers.get("x-amz-content-sha256", "")
    if "aws-chunked" in encoding or sha.startswith("STREAMING-"):
        inner = ChunkedReader(outer)
        return inner, inner
    return outer, None


def checksum_header(headers: Mapping[str, str]) -> str | None:
    """Return the ``x-amz-checksum-*`` name the request carries or announces."""
    trailer = headers.get("x-amz-trailer", "").strip().lower()
    if trailer.startswith("x-amz-checksum-"):
        return trailer
    return next((k for k in headers if k.startswith("x-amz-checksum-")), None)


def _chunks(reader: Source, throttle: Throttle) -> Iterator[Chunk]:
    """Yield chunks; a plain length-delimited body is read into one reused buffer
    (zero extra copies), so each chunk is only valid until the next is requested."""
    if isinstance(reader, LengthReader) and hasattr(reader.source, "readinto"):
        buffer = memoryview(bytearray(READ_CHUNK_BYTES))
        while reader.remaining > 0:
            size = min(throttle.chunk_size(READ_CHUNK_BYTES), reader.remaining)
            got = reader.source.readinto(buffer[:size])
            if not got:
                raise incomplete()
            reader.remaining -= got
            yield buffer[:got]
        return
    while data := reader.read(throttle.chunk_size(READ_CHUNK_BYTES)):
        yield data


def body_chunks(
    source: Source, headers: Mapping[str, str], throttle: Throttle, results: dict[str, str]
) -> Iterator[Chunk]:
    """Yield the decoded request body in chunks of up to ~1 MiB; a chunk may be
    a view of a reused buffer, valid only until the next one is requested.

    ``headers`` has lower-case names.

    When the client sends a CRC32 checksum (header or trailer) it is verified;
    any checksum sent is stored in ``results`` under its header name so the
    response can echo it.

    Raises:
        EmulatorError: 400 on broken framing, an early end, a wrong decoded
            length or checksum; 411 without Content-Length or chunking.
    """
    reader, aws = _decoder(source, headers)
    name = checksum_header(headers)
    crc = 0
    total = 0
    for data in _chunks(reader, throttle):
        throttle.consume(len(data))
        total += len(data)
        if name == "x-amz-checksum-crc32":
            crc = zlib.crc32(data, crc)
        yield data
    declared = headers.get("x-amz-decoded-content-length")
    if aws is not None and declared is not None and declared.isdigit() and int(declared) != total:
        raise incomplete()
    value = (aws.trailers.get(name) if aws and name else None) or headers.get(name or "")
    if name and value:
        expected = base64.b64encode(crc.to_bytes(4, "big")).decode()
        if name == "x-amz-checksum-crc32" and value != expected:
            raise EmulatorError(
                400, "BadDigest", "The CRC32 you specified did not match the calculated checksum."
            )
        results[name] = value
