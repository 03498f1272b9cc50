"""Hashing ahead on real filesystems (loop-mounted images): a disk mounted again in
its place, and whole-second timestamps."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import xxhash

from watchd.base.file_identity import identity
from watchd.base.fileversion import Fingerprint
from watchd.base.stop import StopToken
from watchd.custody.ahead import HashesAhead

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting an image needs root")

WAIT = 10.0


class Disk:
    """An ext4 image with 128-byte inodes (whole-second timestamps), mounted at ``point``."""

    def __init__(self, root: Path) -> None:
        self.image = root / "disk.img"
        self.point = root / "mnt"
        self.point.mkdir()
        with self.image.open("wb") as handle:
            handle.truncate(16 * 1024 * 1024)
        subprocess.run(
            ["mkfs.ext4", "-q", "-F", "-I", "128", str(self.image)],
            check=True,
            capture_output=True,
        )

    def mount(self) -> None:
        subprocess.run(["mount", "-o", "loop", str(self.image), str(self.point)], check=True)

    def unmount(self) -> None:
        subprocess.run(["umount", str(self.point)], check=False)


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Disk]:
    made = Disk(tmp_path)
    made.mount()
    yield made
    made.unmount()


@pytest.fixture
def stop() -> Iterator[StopToken]:
    token = StopToken()
    yield token
    token.stop("test over")


class Plans:
    def __init__(self) -> None:
        self.asked: list[float] = []  # wall-clock times the threads came to read
        self.event = threading.Event()

    def __call__(self, folder: str, path: Path, version: Fingerprint) -> list[str]:
        self.asked.append(time.time())
        self.event.set()
        return ["xxh64"]


def wait_until_read(ahead: HashesAhead, plans: Plans) -> None:
    assert plans.event.wait(WAIT), "not read ahead"
    time.sleep(0.2)  # the read of a few bytes and its stat


def test_a_file_on_a_disk_mounted_again_is_read_again(disk, stop):
    # Same image, same path, same inode, size, mtime and ctime: another mount all the
    # same (a clone of the card in the same reader would look exactly like this).
    clip = disk.point / "C001.mov"
    clip.write_bytes(b"frames" * 1000)
    os.utime(clip, (time.time() - 60, time.time() - 60))
    time.sleep(2.1)  # its ctime two seconds old: read at once
    version = Fingerprint.of(clip.stat())
    plans = Plans()
    ahead = HashesAhead(plans, stop)
    ahead.offer("dailies", clip, version, settle=10)
    wait_until_read(ahead, plans)
    before = clip.stat()
    first = identity(clip)
    disk.unmount()
    disk.mount()
    after = clip.stat()
    again = identity(clip)
    assert first is not None and again is not None and first.mount_id != again.mount_id
    assert (after.st_ino, after.st_size, after.st_mtime_ns, after.st_ctime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
        before.st_ctime_ns,
    )
    assert ahead.take(clip, Fingerprint.of(after), stop) == {}


def test_a_file_on_whole_second_timestamps_is_read_once_its_ctime_is_two_seconds_old(disk, stop):
    # A write in the same second as the read would leave size, mtime and ctime as they
    # were: the read waits until that second is well over.
    clip = disk.point / "C001.mov"
    data = b"frames" * 1000
    clip.write_bytes(data)
    old = time.time() - 60
    os.utime(clip, (old, old))  # written long ago by its mtime; its ctime is now
    changed_at = clip.stat().st_ctime_ns / 1e9
    assert changed_at == int(changed_at), "whole seconds on this filesystem"
    version = Fingerprint.of(clip.stat())
    plans = Plans()
    ahead = HashesAhead(plans, stop)
    ahead.offer("dailies", clip, version, settle=10)
    wait_until_read(ahead, plans)
    assert plans.asked[-1] - changed_at >= 2.0, "read before its ctime was two seconds old"
    assert ahead.take(clip, version, stop) == {"xxh64": xxhash.xxh64(data).hexdigest()}
