"""The state folder: created on first use with the installer's mode, by the daemon and commands."""

import os
import stat
from pathlib import Path

import pytest

from watchd.daemon.runtime_files import DaemonLock
from watchd.store.database import STATE_DIR_MODE, make_state_dir


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode_of(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_installers_mode_is_0750():
    install = Path(__file__).parents[3] / "deploy" / "install.sh"
    assert 'make_dir 0750 watchd "$STATE"' in install.read_text()
    assert STATE_DIR_MODE == 0o750


def test_a_missing_state_folder_is_made_with_the_installers_mode(tmp_path, umask_022):
    state = tmp_path / "var" / "lib" / "watchd"
    make_state_dir(state)
    assert state.is_dir()
    assert mode_of(state) == 0o750


def test_an_existing_state_folder_keeps_its_mode(tmp_path, umask_022):
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    make_state_dir(state)
    assert mode_of(state) == 0o700


def test_the_daemon_makes_its_state_folder_the_same_way(tmp_path, umask_022):
    state = tmp_path / "new" / "state"
    lock = DaemonLock(state)
    lock.acquire()
    try:
        assert mode_of(state) == 0o750
        assert (state / "watchd.lock").read_text().strip() == str(os.getpid())
    finally:
        lock.release()
