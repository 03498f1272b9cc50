"""An unreadable subfolder costs only itself: other files are taken, it shows as a problem.

Root reads every folder, so as root the scenario runs in a child process that
has given up root (uid/gid 65534, "nobody"); as any other user it runs as is.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from watchd.watch.folder_watch import FolderWatch, WatchSettings

NOBODY = 65534


def _scenario(root: str, report: str) -> None:
    if os.geteuid() == 0:
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    base = Path(root)
    taken: list[str] = []

    def take(files):
        taken.extend(file.relpath for file in files)
        return {str(file.path) for file in files}

    watch = FolderWatch(
        WatchSettings(name="drop", root=base, settle_seconds=0.3),
        take,
        lambda _files: set(),
    )
    watch.start()
    (base / "ok_event.mov").write_bytes(b"y" * 100)  # arrives while the scan meets "locked"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and set(taken) != {"ok_event.mov", "ok_scan.mov"}:
        time.sleep(0.05)
    problems = dict(watch.status.problems)
    watch.stop()
    Path(report).write_text(json.dumps({"taken": sorted(taken), "problems": problems}))


@pytest.fixture
def shared_tmp():
    """A scratch folder the unprivileged child can reach (pytest's tmp_path is root-only)."""
    path = Path(tempfile.mkdtemp(prefix="watchd-unreadable-"))
    path.chmod(0o777)
    yield path
    for sub in path.rglob("*"):
        if sub.is_dir():
            sub.chmod(0o755)
    shutil.rmtree(path)


def test_an_unreadable_subfolder_is_a_problem_and_other_files_are_taken(shared_tmp):
    tmp_path = shared_tmp
    root = tmp_path / "drop"
    (root / "locked").mkdir(parents=True)
    (root / "locked" / "inside.mov").write_bytes(b"z" * 10)
    (root / "ok_scan.mov").write_bytes(b"w" * 100)
    for path in (tmp_path, root):
        path.chmod(0o777)
    (root / "locked").chmod(0o000)
    report = tmp_path / "report.json"
    report.touch()
    report.chmod(0o666)
    try:
        child = multiprocessing.get_context("fork").Process(
            target=_scenario, args=(str(root), str(report))
        )
        child.start()
        child.join(30)
        assert child.exitcode == 0
    finally:
        (root / "locked").chmod(0o755)
    result = json.loads(report.read_text())
    assert result["taken"] == ["ok_event.mov", "ok_scan.mov"]
    (locked,) = result["problems"]
    assert locked.endswith("/locked")
    assert "cannot list this folder" in result["problems"][locked]
