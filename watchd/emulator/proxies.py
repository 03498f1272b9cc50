"""Downloadable file categories of an asset. Besides ORIGINAL (the uploaded
bytes) every asset has proxies whose bytes are a deterministic function of the
original: every Nth byte, plus a fixed trailer when watermarked. Tests can
therefore predict a proxy exactly: ``original[::4] + WATERMARK_TRAILER``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import BinaryIO

ORIGINAL = "ORIGINAL"
PROXY_STRIDES = {"1080p": 4, "480p": 16}  # proxy = original[::stride]
CATEGORIES = (ORIGINAL, *PROXY_STRIDES)
SORT_ORDER = {name: i for i, name in enumerate(CATEGORIES)}
GROUPS = {ORIGINAL: "Original", **{name: "Proxy" for name in PROXY_STRIDES}}
WATERMARK_TRAILER = b"\n[watermarked by the Flow Capture emulator]\n"
READ_CHUNK_BYTES = 1024 * 1024  # a multiple of every stride, so slicing per chunk is exact


def is_watermarked(category: str, non_watermarked: bool) -> bool:
    """Return True when a download of ``category`` carries the watermark trailer."""
    return category != ORIGINAL and not non_watermarked


def file_size(original_size: int, category: str, non_watermarked: bool) -> int:
    """Return the size in bytes of one category's file."""
    if category == ORIGINAL:
        return original_size
    stride = PROXY_STRIDES[category]
    trailer = 0 if non_watermarked else len(WATERMARK_TRAILER)
    return (original_size + stride - 1) // stride + trailer


def file_name(asset_name: str, category: str) -> str:
    """Return the download file name of one category."""
    if category == ORIGINAL:
        return asset_name
    return f"{PurePosixPath(asset_name).stem}_{category}.mp4"


def derive(source: BinaryIO, category: str, non_watermarked: bool) -> Iterator[bytes]:
    """Yield the bytes of a proxy computed from the original's bytes."""
    stride = PROXY_STRIDES[category]
    while chunk := source.read(READ_CHUNK_BYTES):
        yield chunk[::stride]
    if not non_watermarked:
        yield WATERMARK_TRAILER
