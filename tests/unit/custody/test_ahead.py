"""Hashing settling files ahead: real files and threads, a monotonic clock moved by hand."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import threading
import time
from pathlib import Path

import pytest
import xxhash

from watchd.base.file_identity import FileIdentity, identity
from watchd.base.fileversion import Fingerprint
from watchd.base.stop import StopToken
from watchd.custody.ahead import HashesAhead

WAIT = 10.0  # seconds a test waits for a thread before it fails


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Plans:
    """The plan callback: records each file it is asked about; may hold a read back."""

    def __init__(self, formats: list[str]) -> None:
        self.formats = formats
        self.asked: list[Path] = []
        self.asked_event = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def __call__(self, folder: str, path: Path, fingerprint: Fingerprint) -> list[str]:
        self.asked.append(path)
        self.asked_event.set()
        assert self.release.wait(WAIT)
        return self.formats


@pytest.fixture
def stop():
    token = StopToken()
    yield token
    token.stop("test over")


def write(path: Path, data: bytes, written_ago: float) -> Fingerprint:
    path.write_bytes(data)
    at = time.time() - written_ago
    os.utime(path, (at, at))
    return Fingerprint.of(path.stat())


def test_a_quiet_file_is_hashed_and_its_digests_are_taken_once(tmp_path, stop):
    plans = Plans(["xxh64", "md5"])
    ahead = HashesAhead(plans, stop)
    data = os.urandom(3 * 1024 * 1024)
    clip = tmp_path / "C001.mov"
    version = write(clip, data, written_ago=60)
    ahead.offer("dailies", clip, version, settle=10)
    assert plans.asked_event.wait(WAIT)
    got = ahead.take(clip, version, stop)  # waits for the read under way, if it still is
    assert got == {"xxh64": xxhash.xxh64(data).hexdigest(), "md5": hashlib.md5(data).hexdigest()}
    assert ahead.take(clip, version, stop) == {}, "taken once"


def test_a_file_written_just_now_waits_for_its_quiet_period(tmp_path, stop):
    plans = Plans(["xxh64"])
    clock = Clock()
    ahead = HashesAhead(plans, stop, monotonic=clock)
    clip = tmp_path / "C001.mov"
    version = write(clip, b"frames" * 1000, written_ago=0)
    ahead.offer("dailies", clip, version, settle=10)  # quiet: 2 s (at most QUIET_MAX_SECONDS)
    assert not plans.asked_event.wait(1.5), "hashed before it was quiet"
    clock.now += 2.1
    assert plans.asked_event.wait(WAIT)
    assert plans.asked == [clip]


def test_a_check_that_comes_while_the_file_is_read_waits_for_that_read(tmp_path, stop):
    plans = Plans(["xxh64"])
    plans.release.clear()  # the read is held back once the thread took the file
    ahead = HashesAhead(plans, stop)
    data = b"card" * 50_000
    clip = tmp_path / "C001.mov"
    version = write(clip, data, written_ago=60)
    ahead.offer("dailies", clip, version, settle=10)
    assert plans.asked_event.wait(WAIT)
    taken: list[dict[str, str]] = []
    check = threading.Thread(target=lambda: taken.append(ahead.take(clip, version, stop)))
    check.start()
    check.join(0.5)
    assert check.is_alive(), "the check waits rather than returning nothing"
    plans.release.set()
    check.join(WAIT)
    assert taken == [{"xxh64": xxhash.xxh64(data).hexdigest()}]
    assert plans.asked == [clip], "read once"


def test_an_offer_not_started_is_withdrawn_by_the_check(tmp_path, stop):
    plans = Plans(["xxh64"])
    clock = Clock()
    ahead = HashesAhead(plans, stop, monotonic=clock)
    clip = tmp_path / "C001.mov"
    version = write(clip, b"frames", written_ago=0)
    ahead.offer("dailies", clip, version, settle=10)
    assert ahead.take(clip, version, stop) == {}  # the check reads the file itself
    clock.now += 60
    assert not plans.asked_event.wait(1.5), "withdrawn: not read a second time"


def test_a_file_written_again_is_hashed_in_its_last_version_only(tmp_path, stop):
    plans = Plans(["xxh64"])
    plans.release.clear()
    ahead = HashesAhead(plans, stop)
    clip = tmp_path / "C001.mov"
    first = write(clip, b"first take", written_ago=60)
    ahead.offer("dailies", clip, first, settle=10)
    assert plans.asked_event.wait(WAIT)
    second = write(clip, b"second take, longer", written_ago=30)  # while it is read
    ahead.offer("dailies", clip, second, settle=10)
    plans.release.set()
    assert ahead.take(clip, first, stop) == {}, "changed while it was read"
    deadline = time.monotonic() + WAIT
    while len(plans.asked) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    latest = {"xxh64": xxhash.xxh64(b"second take, longer").hexdigest()}
    assert ahead.take(clip, second, stop) == latest


def hashed_ahead(caplog: pytest.LogCaptureFixture, path: Path) -> None:
    """Wait until the thread has logged ``path``'s digests as kept."""
    deadline = time.monotonic() + WAIT
    while f"hashed ahead: file={path} " not in caplog.text:
        assert time.monotonic() < deadline, "not hashed ahead"
        time.sleep(0.01)


def test_digests_of_a_file_rewritten_with_its_size_and_mtime_put_back_are_not_used(
    tmp_path, stop, caplog
):
    # The mtime can be set back by anyone; the ctime cannot: the old digests are dropped.
    caplog.set_level(logging.DEBUG, logger="watchd.custody.ahead")
    plans = Plans(["xxh64"])
    ahead = HashesAhead(plans, stop)
    clip = tmp_path / "C001.mov"
    version = write(clip, b"A" * 4096, written_ago=60)
    ahead.offer("dailies", clip, version, settle=10)
    hashed_ahead(caplog, clip)
    time.sleep(0.05)  # a later ctime, even with a coarse filesystem clock
    clip.write_bytes(b"B" * 4096)
    os.utime(clip, ns=(version.mtime_ns, version.mtime_ns))
    assert Fingerprint.of(clip.stat()) == version
    assert ahead.take(clip, version, stop) == {}


def hash_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("hash-ahead-")}


def test_the_threads_start_at_the_first_offer_and_end_when_the_daemon_stops(tmp_path):
    stop = StopToken()
    plans = Plans(["xxh64"])
    before = hash_threads()
    ahead = HashesAhead(plans, stop)
    assert hash_threads() == before, "no threads for a pipeline that is never offered a file"
    clip = tmp_path / "C001.mov"
    ahead.offer("dailies", clip, write(clip, b"x", written_ago=60), settle=10)
    assert plans.asked_event.wait(WAIT)
    workers = hash_threads() - before
    assert len(workers) == 2
    stop.stop("daemon stopping")
    for worker in workers:
        worker.join(WAIT)
        assert not worker.is_alive()


def test_no_file_is_hashed_ahead_without_unique_mount_ids(tmp_path, stop):
    # Before Linux 6.8 a card put back in its reader would go unseen: the checks read.
    plans = Plans(["xxh64"])
    ahead = HashesAhead(plans, stop, identify=lambda _path: None)
    clip = tmp_path / "C001.mov"
    ahead.offer("dailies", clip, write(clip, b"x", written_ago=60), settle=10)
    assert not plans.asked_event.wait(1.0)


def test_a_ctime_in_the_future_is_waited_for_by_this_machines_own_clock(tmp_path, stop):
    # A card stamped by a camera whose clock runs ahead: the grace is counted from the
    # first look that saw that ctime, so the file is still read, two seconds later.
    plans = Plans(["xxh64"])
    clock = Clock()
    ahead_of_us = (int(time.time()) + 3600) * 1_000_000_000  # whole seconds: coarse

    def identify(path: Path) -> FileIdentity | None:
        real = identity(path)
        return real and dataclasses.replace(real, ctime_ns=ahead_of_us)

    ahead = HashesAhead(plans, stop, monotonic=clock, identify=identify)
    clip = tmp_path / "C001.mov"
    version = write(clip, b"frames", written_ago=60)
    ahead.offer("dailies", clip, version, settle=10)
    assert not plans.asked_event.wait(1.5), "read before the grace"
    clock.now += 2.1
    assert plans.asked_event.wait(WAIT)
