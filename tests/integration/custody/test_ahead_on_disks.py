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

from watchd.base.fileversion import Fingerprint
from watchd.base.mounts import MOUNTS, MountWatch
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


Generation = tuple[Path, int, int] | None


def wait_for_generation(watch: MountWatch, path: Path, old: Generation) -> Generation:
    deadline = time.monotonic() + WAIT
    while (now := watch.generation(path)) == old:
        assert time.monotonic() < deadline, "the change was not seen"
        time.sleep(0.01)
    return now


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
    seen = MOUNTS.generation(clip)
    disk.unmount()
    seen = wait_for_generation(MOUNTS, clip, seen)  # (the daemon's watch sees it in ms)
    disk.mount()
    wait_for_generation(MOUNTS, clip, seen)
    after = clip.stat()
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


def test_a_disk_mounted_again_moves_its_points_generation_and_no_other(disk, tmp_path):
    watch = MountWatch()
    clip, elsewhere = disk.point / "C001.mov", tmp_path / "drop" / "C002.mov"
    on_disk, off_disk = watch.generation(clip), watch.generation(elsewhere)
    assert on_disk is not None and on_disk[0] == disk.point
    disk.unmount()
    unmounted = wait_for_generation(watch, clip, on_disk)
    assert unmounted != on_disk  # now on the filesystem below
    disk.mount()  # the same image at the same path: an identical line in the table
    again = wait_for_generation(watch, clip, unmounted)
    assert again is not None and again[0] == disk.point and again != on_disk
    assert watch.generation(elsewhere) == off_disk
