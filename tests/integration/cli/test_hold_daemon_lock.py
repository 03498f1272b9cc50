"""The daemon's lock taken by a command that must not run beside the daemon
(`watchd db recover`, `watchd db migrate-to`)."""

import os
import pwd

import pytest

from watchd.cli.store_access import hold_daemon_lock
from watchd.daemon.runtime_files import LOCK_FILENAME


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a folder another user owns")
def test_a_lock_file_root_creates_goes_to_the_state_folders_owner(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    nobody = pwd.getpwnam("nobody")
    os.chown(state, nobody.pw_uid, nobody.pw_gid)
    lock = hold_daemon_lock(state, "watchd db migrate-to")
    assert lock is not None
    try:
        made = (state / LOCK_FILENAME).stat()
        assert (made.st_uid, made.st_gid) == (nobody.pw_uid, nobody.pw_gid)  # the daemon's user
    finally:
        lock.release()


def test_a_second_holder_is_told_to_stop_the_daemon_first(tmp_path, capsys):
    held = hold_daemon_lock(tmp_path, "watchd run")
    assert held is not None
    try:
        again = hold_daemon_lock(tmp_path, "watchd db recover", then=", then try again")
        assert again is None
        message = capsys.readouterr().err
        assert message.startswith("watchd db recover: another watchd (pid ")
        assert "stop it first (`sudo systemctl stop watchd`), then try again" in message
    finally:
        held.release()
