"""Presigned URLs: bound to method, path, query, Content-MD5 and time."""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlsplit

import pytest

from watchd.emulator.errors import EmulatorError
from watchd.emulator.signing import Signer

MD5 = "XUFAKrxLKna5cZ2REBfFkg=="


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def split(url):
    parts = urlsplit(url)
    return unquote(parts.path), parse_qsl(parts.query)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def signer(clock):
    return Signer(b"k" * 32, clock)


def test_a_url_verifies_with_the_signed_md5(signer):
    url = signer.presign("PUT", "http://h:1", "b", "dir/my file", {"partNumber": "1"}, 300, MD5)
    path, query = split(url)
    assert path == "/b/dir/my file"
    assert signer.verify("PUT", path, query, MD5) is True


def test_tampering_is_detected(signer):
    path, query = split(
        signer.presign("PUT", "http://h:1", "b", "k", {"partNumber": "1"}, 300, MD5)
    )
    tampered = [(k, "2" if k == "partNumber" else v) for k, v in query]
    with pytest.raises(EmulatorError) as caught:
        signer.verify("PUT", path, tampered, MD5)
    assert (caught.value.status, caught.value.code) == (403, "SignatureDoesNotMatch")
    with pytest.raises(EmulatorError):
        signer.verify("GET", path, query, MD5)


def test_a_different_or_missing_content_md5_is_signature_does_not_match(signer):
    path, query = split(signer.presign("PUT", "http://h:1", "b", "k", {}, 300, MD5))
    with pytest.raises(EmulatorError) as caught:
        signer.verify("PUT", path, query, "1B2M2Y8AsgTpgAmY7PhCfg==")
    assert (caught.value.status, caught.value.code) == (403, "SignatureDoesNotMatch")
    assert "Content-MD5 header differs" in caught.value.message
    with pytest.raises(EmulatorError) as caught:
        signer.verify("PUT", path, query, None)
    assert (caught.value.status, caught.value.code) == (403, "SignatureDoesNotMatch")


def test_urls_expire(signer, clock):
    path, query = split(signer.presign("GET", "http://h:1", "b", "k", {}, 60))
    assert signer.verify("HEAD", path, query, None)
    clock.now += 61
    with pytest.raises(EmulatorError) as caught:
        signer.verify("GET", path, query, None)
    assert caught.value.message == "Request has expired"


def test_foreign_signatures_are_not_ours(signer):
    assert (
        signer.verify(
            "GET", "/b/k", [("X-Amz-Credential", "AKIA/x"), ("X-Amz-Signature", "ab")], None
        )
        is False
    )
    assert signer.verify("GET", "/b/k", [], None) is False
