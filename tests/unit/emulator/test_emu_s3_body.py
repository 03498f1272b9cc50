"""Request body decoding: lengths, HTTP chunked, aws-chunked with trailers."""

from __future__ import annotations

import base64
import io
import threading
import zlib

import pytest

from watchd.emulator.errors import EmulatorError
from watchd.emulator.faults import Faults, Throttle
from watchd.emulator.s3_body import body_chunks


def read(raw: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    checks: dict[str, str] = {}
    throttle = Throttle(Faults(), threading.Event())
    data = b"".join(
        bytes(c) for c in body_chunks(io.BufferedReader(io.BytesIO(raw)), headers, throttle, checks)
    )
    return data, checks


def chunked(parts: list[bytes], trailer: bytes = b"") -> bytes:
    return (
        b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n" + trailer + b"\r\n"
    )


def test_content_length_bodies():
    assert read(b"abcdefXX", {"content-length": "6"})[0] == b"abcdef"
    with pytest.raises(EmulatorError, match="ended early"):
        read(b"abc", {"content-length": "6"})
    with pytest.raises(EmulatorError) as caught:
        read(b"abc", {})
    assert caught.value.status == 411


def test_http_chunked_bodies():
    assert read(chunked([b"ab", b"cde"]), {"transfer-encoding": "chunked"})[0] == b"abcde"


def test_aws_chunked_inside_http_chunked_with_a_crc32_trailer():
    data = b"0123456789" * 5
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big"))
    inner = chunked([data[:17], data[17:]], b"x-amz-checksum-crc32:" + crc + b"\r\n")
    outer = chunked([inner[:9], inner[9:30], inner[30:]])
    headers = {
        "transfer-encoding": "chunked",
        "content-encoding": "aws-chunked",
        "x-amz-trailer": "x-amz-checksum-crc32",
        "x-amz-decoded-content-length": str(len(data)),
    }
    body, checks = read(outer, headers)
    assert body == data
    assert checks == {"x-amz-checksum-crc32": crc.decode()}


def test_aws_chunked_with_a_wrong_decoded_length_or_crc_is_refused():
    inner = chunked([b"abc"], b"x-amz-checksum-crc32:AAAAAA==\r\n")
    headers = {
        "content-length": str(len(inner)),
        "content-encoding": "aws-chunked",
        "x-amz-trailer": "x-amz-checksum-crc32",
    }
    with pytest.raises(EmulatorError, match="CRC32"):
        read(inner, headers)
    with pytest.raises(EmulatorError, match="ended early"):
        read(
            chunked([b"abc"]),
            {
                "content-length": "15",
                "content-encoding": "aws-chunked",
                "x-amz-decoded-content-length": "4",
            },
        )
