"""Byte ranges and deterministic proxies."""

from __future__ import annotations

import io

import pytest

from watchd.emulator import proxies
from watchd.emulator.errors import EmulatorError
from watchd.emulator.s3_objects import parse_range


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", (0, 9)),
        ("bytes=5-", (5, 99)),
        ("bytes=90-200", (90, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=-500", (0, 99)),
        ("bytes=0-1,5-6", None),
        ("items=0-1", None),
    ],
)
def test_ranges(header, expected):
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=200-300", "bytes=-0"])
def test_unsatisfiable_ranges(header):
    with pytest.raises(EmulatorError) as caught:
        parse_range(header, 100)
    assert caught.value.status == 416


def test_proxies_are_every_nth_byte_plus_a_watermark():
    original = bytes(range(256)) * 10_000
    for category, stride in proxies.PROXY_STRIDES.items():
        clean = b"".join(proxies.derive(io.BytesIO(original), category, True))
        assert clean == original[::stride]
        assert len(clean) == proxies.file_size(len(original), category, True)
        marked = b"".join(proxies.derive(io.BytesIO(original), category, False))
        assert marked == original[::stride] + proxies.WATERMARK_TRAILER
        assert len(marked) == proxies.file_size(len(original), category, False)
    assert proxies.file_name("A001_C002.mov", "480p") == "A001_C002_480p.mp4"
