"""Which file, in which state, a path names now: more than a stat tells.

``statx(2)`` (through ctypes: Python 3.11 has no binding) gives, besides the
device, inode, size and times, the id of the mount the file is on. Linux 6.8
and later give one that is never reused (STATX_MNT_ID_UNIQUE): a card taken out
of its reader and put back, or a clone of it put in its place, shows the same
device number, inodes, sizes and times, and even the same mount id from the
mount table (the kernel reuses those), but a new unique mount id. Where the
kernel cannot give one, :func:`identity` returns None: nothing can be taken to
be the same file it was.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from watchd.base.fileversion import Fingerprint

AT_FDCWD = -100
AT_STATX_SYNC_AS_STAT = 0
STATX_BASIC_STATS = 0x7FF
STATX_MNT_ID_UNIQUE = 0x4000
# What identity() compares, all of which the kernel must have filled in.
_NEEDED = 0x40 | 0x80 | 0x100 | 0x200 | STATX_MNT_ID_UNIQUE  # mtime, ctime, ino, size, mount


class _Timestamp(ctypes.Structure):
    _fields_ = [("sec", ctypes.c_int64), ("nsec", ctypes.c_uint32), ("_reserved", ctypes.c_int32)]


class _Statx(ctypes.Structure):
    """``struct statx`` (include/uapi/linux/stat.h): 256 bytes, the kernel fills what it knows."""

    _fields_ = [
        ("mask", ctypes.c_uint32),
        ("blksize", ctypes.c_uint32),
        ("attributes", ctypes.c_uint64),
        ("nlink", ctypes.c_uint32),
        ("uid", ctypes.c_uint32),
        ("gid", ctypes.c_uint32),
        ("mode", ctypes.c_uint16),
        ("_spare0", ctypes.c_uint16),
        ("ino", ctypes.c_uint64),
        ("size", ctypes.c_uint64),
        ("blocks", ctypes.c_uint64),
        ("attributes_mask", ctypes.c_uint64),
        ("atime", _Timestamp),
        ("btime", _Timestamp),
        ("ctime", _Timestamp),
        ("mtime", _Timestamp),
        ("rdev_major", ctypes.c_uint32),
        ("rdev_minor", ctypes.c_uint32),
        ("dev_major", ctypes.c_uint32),
        ("dev_minor", ctypes.c_uint32),
        ("mnt_id", ctypes.c_uint64),
        ("_spare", ctypes.c_uint8 * 104),
    ]


def _load_statx() -> Callable[..., int] | None:
    try:
        function = ctypes.CDLL(None, use_errno=True).statx  # glibc 2.28+
    except (AttributeError, OSError):
        return None
    function.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(_Statx),
    ]
    function.restype = ctypes.c_int
    return cast(Callable[..., int], function)


_statx = _load_statx()


@dataclass(frozen=True)
class FileIdentity:
    """A file as it is now: its version, its last change (ctime) and its mount."""

    version: Fingerprint
    ctime_ns: int
    mount_id: int  # unique for the machine's uptime: a mount again is another id


def identity(path: Path) -> FileIdentity | None:
    """Return what ``path`` is now (symlinks followed); None if it cannot be read or the
    kernel gives no unique mount id (before Linux 6.8)."""
    if _statx is None:
        return None
    buffer = _Statx()
    mask = STATX_BASIC_STATS | STATX_MNT_ID_UNIQUE
    if _statx(AT_FDCWD, os.fsencode(path), AT_STATX_SYNC_AS_STAT, mask, ctypes.byref(buffer)):
        return None
    if buffer.mask & _NEEDED != _NEEDED:
        return None  # e.g. a FUSE server that gives no ctime, or a kernel before 6.8
    device = os.makedev(buffer.dev_major, buffer.dev_minor)
    version = Fingerprint(device, buffer.ino, buffer.size, _ns(buffer.mtime))
    return FileIdentity(version, _ns(buffer.ctime), buffer.mnt_id)


def _ns(stamp: _Timestamp) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nsec)
