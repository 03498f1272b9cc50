"""FolderWatch on real folders: settling, health, a dead observer, the inotify limit."""

from __future__ import annotations

import errno
import logging
import threading
import time

import pytest

from watchd.watch import folder_watch as folder_watch_module
from watchd.watch.folder_watch import FolderWatch, WatchSettings
from watchd.watch.observer import WatchLimitError


def wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    raise AssertionError("condition not met")


@pytest.fixture
def settled():
    found = []
    lock = threading.Lock()

    def on_settled(files):
        with lock:
            found.extend(files)
        return {str(file.path) for file in files}

    return found, on_settled


def start(tmp_path, on_settled, **settings):
    watch = FolderWatch(
        WatchSettings(name="drop", root=tmp_path, settle_seconds=0.5, **settings),
        on_settled,
        lambda _files: set(),
    )
    watch.start()
    return watch


def test_a_new_file_settles_once(tmp_path, settled):
    found, on_settled = settled
    watch = start(tmp_path, on_settled)
    try:
        (tmp_path / "a.mov").write_bytes(b"x" * 100)
        wait_for(lambda: len(found) == 1)
        time.sleep(2.5)  # more ticks and a rescan: still once
        watch.request_rescan()
        time.sleep(1.5)
        assert [f.relpath for f in found] == ["a.mov"]
    finally:
        watch.stop()


def test_files_that_begin_to_settle_are_told_with_their_version_and_settle_time(tmp_path):
    # What the daemon hashes ahead: every new version of a file it has no job for yet,
    # before it settles; a file with a job already is not told of.
    seen: list[tuple[str, int, float]] = []
    settled: list[str] = []

    def on_settled(files):
        settled.extend(f.relpath for f in files)
        return {str(f.path) for f in files}

    (tmp_path / "known.mov").write_bytes(b"had a job")
    watch = FolderWatch(
        WatchSettings(name="drop", root=tmp_path, settle_seconds=0.5),
        on_settled,
        lambda files: {str(f.path) for f in files if f.relpath == "known.mov"},
        on_seen=lambda files, settle: seen.extend(
            (f.relpath, f.fingerprint.size, settle) for f in files
        ),
    )
    watch.start()
    try:
        (tmp_path / "a.mov").write_bytes(b"x" * 100)
        wait_for(lambda: settled == ["a.mov"])
        # (the file's creation, still empty, may be told first when the machine is busy)
        assert seen[-1] == ("a.mov", 100, 0.5)
        assert all(relpath == "a.mov" for relpath, _size, _settle in seen)
    finally:
        watch.stop()


def test_a_dead_observer_is_noticed_and_restarted(tmp_path, settled, caplog):
    caplog.set_level(logging.INFO)
    found, on_settled = settled
    watch = start(tmp_path, on_settled)
    try:
        wait_for(lambda: watch._observer is not None)
        dead = watch._observer
        assert dead is not None
        dead.stop()  # what a crashed event thread looks like from outside
        dead.join(5)

        def restarted():
            current = watch._observer  # None for a moment while it is replaced
            return current is not None and current is not dead and current.is_alive()

        wait_for(restarted)
        assert "health=observer-died" in caplog.text
        (tmp_path / "after.mov").write_bytes(b"y")
        wait_for(lambda: [f.relpath for f in found] == ["after.mov"])
    finally:
        watch.stop()


def test_the_inotify_limit_is_reported_with_the_fix_and_rescans_still_find_files(
    tmp_path, settled, caplog, monkeypatch
):
    caplog.set_level(logging.INFO)

    def no_watches_left(root, **_):
        raise WatchLimitError(errno.ENOSPC, f"inotify limit reached watching {root}")

    monkeypatch.setattr(folder_watch_module, "start_observer", no_watches_left)
    found, on_settled = settled
    (tmp_path / "waiting.mov").write_bytes(b"z" * 10)
    watch = start(tmp_path, on_settled)
    try:
        wait_for(lambda: watch.status.health == "watch-limit")
        assert "fs.inotify.max_user_watches" in watch.status.message
        wait_for(lambda: [f.relpath for f in found] == ["waiting.mov"])
        (tmp_path / "later.mov").write_bytes(b"w")
        watch.request_rescan()
        wait_for(lambda: len(found) == 2)
    finally:
        watch.stop()


def test_a_missing_folder_is_unhealthy_and_recovers(tmp_path, settled):
    found, on_settled = settled
    root = tmp_path / "drop"
    root.mkdir()
    watch = FolderWatch(
        WatchSettings(name="drop", root=root, settle_seconds=0.5), on_settled, lambda _f: set()
    )
    watch.start()
    try:
        wait_for(lambda: watch._observer is not None)
        root.rename(tmp_path / "away")
        wait_for(lambda: watch.status.health == "missing")
        assert not watch.available()
        (tmp_path / "away").rename(root)
        wait_for(lambda: watch.status.health == "ok")
        (root / "back.mov").write_bytes(b"b")
        wait_for(lambda: [f.relpath for f in found] == ["back.mov"])
    finally:
        watch.stop()


def test_a_symlink_loop_made_while_watching_is_a_problem_until_it_is_removed(tmp_path, settled):
    found, on_settled = settled
    watch = start(tmp_path, on_settled)
    try:
        (tmp_path / "loopB.mov").symlink_to("loopA.mov")
        (tmp_path / "loopA.mov").symlink_to("loopB.mov")
        (tmp_path / "fine.mov").write_bytes(b"x" * 100)
        wait_for(lambda: len(watch.status.problems) == 2)
        wait_for(lambda: [f.relpath for f in found] == ["fine.mov"])
        assert all("symlink loop" in reason for reason in watch.status.problems.values())
        (tmp_path / "loopA.mov").unlink()
        (tmp_path / "loopB.mov").unlink()
        wait_for(lambda: not watch.status.problems)
    finally:
        watch.stop()


def test_a_scan_of_a_huge_folder_waits_while_too_many_files_settle(
    tmp_path, settled, monkeypatch, caplog
):
    # A walk runs far ahead of queueing; what it found waits in the settle tracker.
    # Bounded, a folder of 100,000 files does not keep 100,000 entries in memory.
    caplog.set_level(logging.INFO)
    monkeypatch.setattr(folder_watch_module, "SCAN_AHEAD", 10)
    monkeypatch.setattr(folder_watch_module, "SCAN_CHUNK", 4)
    monkeypatch.setattr(folder_watch_module, "SETTLE_ROUND", 3)  # second looks in rounds too
    for sub in ("a", "b", "c"):
        (tmp_path / sub).mkdir()
        for i in range(20):
            (tmp_path / sub / f"clip{i:02d}.mov").write_bytes(b"x" * (i + 1))
    found, on_settled = settled
    watch = FolderWatch(
        WatchSettings(name="drop", root=tmp_path, settle_seconds=0.3, recursive=True),
        on_settled,
        lambda _files: set(),
    )
    most = 0
    observe = watch.tracker.observe

    def counting_observe(path, fingerprint):
        nonlocal most
        settled_now = observe(path, fingerprint)
        most = max(most, len(watch.tracker))
        return settled_now

    monkeypatch.setattr(watch.tracker, "observe", counting_observe)
    rounds: list[int] = []
    settle_some = watch._settle_some

    def recording_settle_some(due):
        rounds.append(len(due))
        settle_some(due)

    monkeypatch.setattr(watch, "_settle_some", recording_settle_some)
    watch.start()
    try:
        wait_for(lambda: len(found) == 60, timeout=30)
        wait_for(lambda: "scan: folder=drop files=60" in caplog.text)
    finally:
        watch.stop()
    assert sorted(f.relpath for f in found) == sorted(
        f"{sub}/clip{i:02d}.mov" for sub in "abc" for i in range(20)
    )
    assert most <= 10 + 4  # the bound, plus the chunk that crossed it
    assert rounds and max(rounds) <= 3  # files that came due together, looked at in rounds
