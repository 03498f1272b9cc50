"""statx through ctypes: the same values a stat gives, and the unique mount id."""

from __future__ import annotations

import os
import time
from pathlib import Path

from watchd.base.file_identity import identity
from watchd.base.fileversion import Fingerprint


def test_a_files_identity_is_what_stat_says_and_its_mount(tmp_path):
    clip = tmp_path / "C001.mov"
    clip.write_bytes(b"frames" * 100)
    assert identity(Path("/")) is not None, "this kernel (6.8+) gives unique mount ids"
    first = identity(clip)
    status = clip.stat()
    assert first is not None
    assert first.version == Fingerprint.of(status)
    assert first.ctime_ns == status.st_ctime_ns
    folder = identity(tmp_path)
    assert folder is not None and first.mount_id == folder.mount_id
    time.sleep(0.02)
    os.utime(clip, ns=(status.st_atime_ns, status.st_mtime_ns))  # times put back: ctime moves
    again = identity(clip)
    assert again is not None and again.version == first.version
    assert again.ctime_ns > first.ctime_ns


def test_a_missing_file_has_no_identity(tmp_path):
    assert identity(tmp_path / "gone.mov") is None
