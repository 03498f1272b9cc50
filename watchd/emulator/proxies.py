"""Downloadable file categories of an asset. Besides ORIGINAL (the uploaded
bytes) every asset has proxies whose bytes are a deterministic function of the
original: every Nth byte, plus a fixed trailer when watermarked. Tests can
therefore predict a proxy exactly: ``original[::4] + WATERMARK_TRAILER``.

With the ``original_files: with_sidecar`` setting ORIGINAL is a multi-file
category: the uploaded file and an XML sidecar, both under a folder named
after the clip (the task ``path`` says where each file goes)."""

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


def sidecar_name(asset_name: str) -> str:
    """Return the file name of the XML sidecar of a multi-file original."""
    return f"{PurePosixPath(asset_name).stem}.xml"


def sidecar_bytes(asset_id: int, asset_name: str, size: int) -> bytes:
    """Return the sidecar's content: a small XML description of the clip."""
    return f'<clip id="{asset_id}" name="{asset_name}" size="{size}"/>\n'.encode()


def original_paths(asset_name: str, with_sidecar: bool) -> list[str]:
    """Return the task paths of ORIGINAL's files: the name alone, or clip folder + sidecar."""
    if not with_sidecar:
        return [asset_name]
    folder = PurePosixPath(asset_name).stem
    return [f"{folder}/{asset_name}", f"{folder}/{sidecar_name(asset_name)}"]
