"""deploy/install.sh installs for real into a throw-away root, with systemctl stubbed."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[3]
INSTALLER = REPO / "deploy" / "install.sh"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("useradd"),
    reason="the installer creates a system user and sets owners: it needs root",
)


def make_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    etc = root / "etc"
    etc.mkdir(parents=True)
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (etc / "group").write_text("root:x:0:\n")
    for name in ("shadow", "gshadow"):
        (etc / name).write_text("")
        (etc / name).chmod(0o640)
    return root


def stub_systemctl(tmp_path: Path) -> tuple[Path, Path]:
    log = tmp_path / "systemctl.log"
    stub = tmp_path / "systemctl"
    stub.write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    stub.chmod(0o755)
    return stub, log


def run_installer(root: Path, systemctl: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SYSTEMCTL": str(systemctl), "PYTHON": sys.executable}
    return subprocess.run(
        ["bash", str(INSTALLER), "--root", str(root), *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=600,
    )


def ids(root: Path) -> tuple[int, int]:
    line = next(
        entry
        for entry in (root / "etc/passwd").read_text().splitlines()
        if entry.startswith("watchd:")
    )
    fields = line.split(":")
    return int(fields[2]), int(fields[3])


def snapshot(root: Path) -> dict[str, tuple[int, int, int, str]]:
    """Every file and folder under root: mode, owner, group and content hash."""
    state = {}
    for path in sorted(root.rglob("*")):
        if "__pycache__" in path.parts or path.is_symlink():
            continue
        info = path.stat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        state[str(path.relative_to(root))] = (
            info.st_mode & 0o7777,
            info.st_uid,
            info.st_gid,
            digest,
        )
    return state


def install(tmp_path):
    root = make_root(tmp_path)
    systemctl, log = stub_systemctl(tmp_path)
    key = tmp_path / "key"
    key.write_text("the-real-api-key\n")
    result = run_installer(
        root, systemctl, "--email", "dit@example.com", "--api-key-file", str(key)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return root, systemctl, log, result


def mode_and_owner(path: Path) -> tuple[int, int, int]:
    info = path.stat()
    return info.st_mode & 0o7777, info.st_uid, info.st_gid


def check_the_install_lays_out_files_with_the_right_modes_and_owners(installed):
    root, _, _, _ = installed
    uid, gid = ids(root)
    assert uid != 0
    assert mode_and_owner(root / "etc/watchd") == (0o750, 0, gid)
    assert mode_and_owner(root / "etc/watchd/watchd.yaml") == (0o640, 0, gid)
    assert mode_and_owner(root / "etc/watchd/api_key") == (0o600, 0, 0)
    assert (root / "etc/watchd/api_key").read_text() == "the-real-api-key\n"
    assert mode_and_owner(root / "var/lib/watchd") == (0o750, uid, gid)
    assert mode_and_owner(root / "var/log/watchd") == (0o750, uid, gid)
    assert mode_and_owner(root / "etc/systemd/system/watchd.service") == (0o644, 0, 0)
    assert mode_and_owner(root / "etc/logrotate.d/watchd") == (0o644, 0, 0)
    examples = sorted(p.name for p in (root / "etc/watchd/folders.d").iterdir())
    assert examples == ["dailies.yaml.example", "editorial.yaml.example", "smb-share.yaml.example"]
    assert "email: dit@example.com" in (root / "etc/watchd/watchd.yaml").read_text()
    assert os.readlink(root / "usr/local/bin/watchd") == "/opt/watchd/venv/bin/watchd"


def check_the_installed_watchd_runs_and_its_sample_config_checks(installed):
    root, _, _, _ = installed
    watchd = root / "opt/watchd/venv/bin/watchd"
    version = subprocess.run([str(watchd), "--version"], check=True, capture_output=True, text=True)
    assert version.stdout.startswith("watchd ")
    config = (root / "etc/watchd/watchd.yaml").read_text().replace("/var/", f"{root}/var/")
    config = config.replace("/etc/watchd/folders.d", f"{root}/etc/watchd/folders.d")
    (root / "check.yaml").write_text(config)
    credentials = root / "credentials"
    credentials.mkdir(exist_ok=True)
    shutil.copy(root / "etc/watchd/api_key", credentials / "api_key")
    checked = subprocess.run(
        [str(watchd), "check-config", "--config", str(root / "check.yaml")],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "CREDENTIALS_DIRECTORY": str(credentials)},
    )
    assert checked.returncode == 0, checked.stderr
    assert "OK: 0 folders" in checked.stdout


def check_systemctl_is_asked_to_enable_the_unit_offline(installed):
    root, _, log, _ = installed
    assert f"--root={root} enable watchd.service" in log.read_text()


def check_a_second_run_changes_nothing_and_keeps_an_edited_config(installed):
    root, systemctl, _, _ = installed
    config = root / "etc/watchd/watchd.yaml"
    config.write_text(config.read_text() + "# edited by the DIT\n")
    before = snapshot(root)
    again = run_installer(root, systemctl)
    assert again.returncode == 0, again.stderr
    assert "up to date" in again.stdout
    assert snapshot(root) == before


def check_uninstall_keeps_config_and_data_and_purge_removes_them(installed):
    root, systemctl, _, _ = installed
    (root / "var/lib/watchd/watchd.db").write_bytes(b"data")
    removed = run_installer(root, systemctl, "--uninstall")
    assert removed.returncode == 0, removed.stderr
    assert not (root / "opt/watchd").exists()
    assert not (root / "etc/systemd/system/watchd.service").exists()
    assert not (root / "usr/local/bin/watchd").is_symlink()
    assert (root / "etc/watchd/watchd.yaml").exists()
    assert (root / "var/lib/watchd/watchd.db").exists()
    purged = run_installer(root, systemctl, "--uninstall", "--purge")
    assert purged.returncode == 0, purged.stderr
    assert not (root / "etc/watchd").exists()
    assert not (root / "var/lib/watchd").exists()
    assert "watchd:" not in (root / "etc/passwd").read_text()


def test_install_reinstall_and_uninstall_in_a_throwaway_root(tmp_path):
    """One root through its whole life (pip makes each install take a while)."""
    installed = install(tmp_path)
    check_the_install_lays_out_files_with_the_right_modes_and_owners(installed)
    check_the_installed_watchd_runs_and_its_sample_config_checks(installed)
    check_systemctl_is_asked_to_enable_the_unit_offline(installed)
    check_a_second_run_changes_nothing_and_keeps_an_edited_config(installed)
    check_uninstall_keeps_config_and_data_and_purge_removes_them(installed)
