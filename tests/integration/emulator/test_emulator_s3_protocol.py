"""Raw S3 wire details: chunked bodies, aws-chunked with trailers, 100-continue,
unsigned requests."""

from __future__ import annotations

import base64
import http.client
import zlib
from urllib.parse import urlsplit


def connect(emu):
    parts = urlsplit(emu.s3_url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)


def aws_chunked(data: bytes, chunk: int = 7) -> tuple[bytes, str]:
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    body = b"".join(
        b"%x\r\n%s\r\n" % (len(data[i : i + chunk]), data[i : i + chunk])
        for i in range(0, len(data), chunk)
    )
    return body + b"0\r\nx-amz-checksum-crc32:" + crc.encode() + b"\r\n\r\n", crc


def test_an_unsigned_request_is_access_denied(api):
    resp = api.session.get(f"{api.emu.s3_url}/bucket/key")
    assert resp.status_code == 403
    assert "<Code>AccessDenied</Code>" in resp.text


def test_transfer_encoding_chunked_bodies_are_decoded(api):
    def body():
        yield b"hello "
        yield b"world"

    resp = api.session.put(f"{api.emu.s3_url}/b/chunked", data=body(), headers=api.S3_AUTH)
    assert resp.status_code == 200
    assert api.s3_get("b", "chunked").content == b"hello world"


def test_aws_chunked_with_trailing_checksum_is_decoded_and_echoed(api, emu):
    data = b"the quick brown fox jumps over the lazy dog"
    body, crc = aws_chunked(data)
    conn = connect(emu)
    headers = {
        **api.S3_AUTH,
        "Content-Encoding": "aws-chunked",
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "x-amz-decoded-content-length": str(len(data)),
        "x-amz-trailer": "x-amz-checksum-crc32",
        "Content-Length": str(len(body)),
    }
    conn.request("PUT", "/b/aws", body=body, headers=headers)
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 200
    assert resp.getheader("x-amz-checksum-crc32") == crc
    conn.request("GET", "/b/aws", headers=api.S3_AUTH)  # the same keep-alive connection
    assert conn.getresponse().read() == data


def test_a_wrong_trailing_crc_is_refused(api, emu):
    body, _ = aws_chunked(b"payload")
    body = body.replace(b"crc32:", b"crc32:AAAA")
    conn = connect(emu)
    headers = {"Content-Encoding": "aws-chunked", "x-amz-trailer": "x-amz-checksum-crc32"}
    conn.request("PUT", "/b/bad", body=body, headers={**api.S3_AUTH, **headers})
    resp = conn.getresponse()
    assert resp.status == 400
    assert b"BadDigest" in resp.read()


def test_expect_100_continue_is_answered_before_the_body(api, emu):
    conn = connect(emu)
    conn.putrequest("PUT", "/b/expect")
    for name, value in {**api.S3_AUTH, "Content-Length": "5", "Expect": "100-continue"}.items():
        conn.putheader(name, value)
    conn.endheaders()
    assert conn.sock is not None
    interim = conn.sock.recv(1024)
    assert interim.startswith(b"HTTP/1.1 100")
    conn.send(b"12345")
    resp = conn.getresponse()
    assert resp.status == 200
    resp.read()


def test_a_refused_expect_100_request_gets_its_error_without_sending_the_body(api, emu):
    conn = connect(emu)
    conn.putrequest("PUT", "/b/k?partNumber=1&uploadId=nope")
    for name, value in {**api.S3_AUTH, "Content-Length": "5", "Expect": "100-continue"}.items():
        conn.putheader(name, value)
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 404
    assert b"NoSuchUpload" in resp.read()
