"""How a file is cut into multipart-upload parts.

The limits come from S3 multipart uploads, which Flow Capture uses as they are:
every part but the last at least 5 MiB, at most 10,000 parts, at most 5 GiB a
part. The preferred part size is grown as needed so any file fits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from watchd.base.service import MAX_PART_BYTES, MAX_PARTS, MIB, MIN_PART_BYTES

__all__ = [  # the S3 limits live with the service facts; re-exported for the planners' users
    "MAX_OBJECT_BYTES",
    "MAX_PARTS",
    "MAX_PART_BYTES",
    "MIB",
    "MIN_PART_BYTES",
    "PART_SIZE_ALIGN_BYTES",
    "Part",
    "choose_part_size",
    "plan_parts",
]

MAX_OBJECT_BYTES = MAX_PARTS * MAX_PART_BYTES  # what the rules above can carry at most
PART_SIZE_ALIGN_BYTES = MIB  # grown part sizes are rounded up to whole MiB


@dataclass(frozen=True)
class Part:
    """One part of a file: its number (from 1), where it starts, how long it is."""

    number: int
    offset: int
    size: int


def choose_part_size(file_size: int, preferred: int) -> int:
    """Return the part size to use for a file of ``file_size`` bytes.

    ``preferred`` is raised to the 5 MiB minimum, then grown (in whole MiB) until
    the file fits in 10,000 parts. Raises ValueError for a file too big for S3.
    """
    if file_size < 0:
        raise ValueError(f"file size cannot be negative: {file_size}")
    if file_size > MAX_OBJECT_BYTES:
        raise ValueError(f"file of {file_size} bytes is larger than a multipart upload can carry")
    size = max(preferred, MIN_PART_BYTES)
    if math.ceil(file_size / size) > MAX_PARTS:
        needed = math.ceil(file_size / MAX_PARTS)
        size = math.ceil(needed / PART_SIZE_ALIGN_BYTES) * PART_SIZE_ALIGN_BYTES
    return min(size, MAX_PART_BYTES)


def plan_parts(file_size: int, part_size: int) -> list[Part]:
    """Return the parts covering ``file_size`` bytes with parts of ``part_size``.

    An empty file is one empty part (S3 accepts a last part of any size).
    Raises ValueError when the plan would break the S3 limits.
    """
    if part_size < MIN_PART_BYTES or part_size > MAX_PART_BYTES:
        raise ValueError(f"part size {part_size} is outside {MIN_PART_BYTES}..{MAX_PART_BYTES}")
    count = max(1, math.ceil(file_size / part_size))
    if count > MAX_PARTS:
        raise ValueError(f"{count} parts of {part_size} bytes exceed the {MAX_PARTS}-part limit")
    return [
        Part(number=i + 1, offset=i * part_size, size=min(part_size, file_size - i * part_size))
        for i in range(count)
    ]
