"""The hash formats of ASC MHL, computed in one sequential pass over a file.

xxh64, xxh3 (64 bit), xxh128 come from the ``xxhash`` package; md5, sha1 and
c4 (SHA-512 in base58, ASC MHL's chain format) from hashlib. Hex digests are
lower case, as ASC MHL writes them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

import xxhash

from watchd.base.stop import StopToken

READ_CHUNK_BYTES = 4 * 1024 * 1024  # one read of the sequential pass
MIN_READ_BYTES = 64 * 1024  # the smallest read buffer (a file that grew meanwhile)
C4_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
C4_LENGTH = 90  # a C4 id is always "c4" + 88 base58 digits


class Hasher(Protocol):
    def update(self, data: bytes | memoryview, /) -> None: ...
    def hexdigest(self) -> str: ...


class _C4:
    """SHA-512 of the data, written as a C4 id."""

    def __init__(self) -> None:
        self._sha = hashlib.sha512()

    def update(self, data: bytes | memoryview, /) -> None:
        self._sha.update(data)

    def hexdigest(self) -> str:
        return c4_id(self._sha.digest())


_FACTORIES: dict[str, Callable[[], Hasher]] = {
    "xxh64": xxhash.xxh64,
    "xxh3": xxhash.xxh3_64,
    "xxh128": xxhash.xxh3_128,
    "md5": hashlib.md5,
    "sha1": hashlib.sha1,
    "c4": _C4,
}
# Every format ASC MHL 2.0 defines, cheapest first: when a history records several for
# a file, the first of these is the one checked (xxh3 runs at ~6 GB/s, c4 at ~0.5 GB/s).
FORMATS_BY_COST = ("xxh3", "xxh128", "xxh64", "sha1", "md5", "c4")
# The order ASC MHL's schema wants hash elements in, within one <hash>.
SCHEMA_ORDER = ("c4", "md5", "sha1", "xxh128", "xxh3", "xxh64")


def is_format(name: str) -> bool:
    """Return True if ``name`` is an ASC MHL hash format this module computes."""
    return name in _FACTORIES


def cheapest(formats: Iterable[str]) -> str | None:
    """Return the cheapest known format among ``formats`` (None if none is known)."""
    present = set(formats)
    return next((f for f in FORMATS_BY_COST if f in present), None)


def c4_id(sha512_digest: bytes) -> str:
    """Return the C4 id (``c4`` + 88 base58 digits) of a SHA-512 digest."""
    value = int.from_bytes(sha512_digest, "big")
    digits = []
    while value:
        value, rest = divmod(value, 58)
        digits.append(C4_ALPHABET[rest])
    return "c4" + "".join(reversed(digits)).rjust(C4_LENGTH - 2, "1")


def hash_file(path: Path, formats: Iterable[str], stop: StopToken | None = None) -> dict[str, str]:
    """Read ``path`` once from start to end; return each format's digest.

    Raises ValueError for an unknown format, OSError when the file cannot be
    read, and Stopped when ``stop`` is set (seen between reads).
    """
    hashers = {name: _new(name) for name in dict.fromkeys(formats)}
    with open(path, "rb", buffering=0) as handle:
        # No bigger than the file: tens of small files hashed at once would otherwise
        # each hold (and, from the allocator's reused memory, touch) a full chunk.
        size = os.fstat(handle.fileno()).st_size
        view = memoryview(bytearray(max(MIN_READ_BYTES, min(READ_CHUNK_BYTES, size + 1))))
        while True:
            if stop is not None:
                stop.check()
            count = handle.readinto(view)
            if not count:
                break
            chunk = view[:count]
            for hasher in hashers.values():
                hasher.update(chunk)
    return {name: hasher.hexdigest() for name, hasher in hashers.items()}


def hash_bytes(data: bytes, fmt: str) -> str:
    """Return the digest of ``data`` in ``fmt`` (ValueError for an unknown format)."""
    hasher = _new(fmt)
    hasher.update(data)
    return hasher.hexdigest()


def _new(name: str) -> Hasher:
    try:
        return _FACTORIES[name]()
    except KeyError:
        known = ", ".join(FORMATS_BY_COST)
        raise ValueError(f"unknown hash format {name!r}; known: {known}") from None
