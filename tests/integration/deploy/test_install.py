"""deploy/install.sh installs for real into a throw-away root, with systemctl stubbed.

The root lies in a folder every user may pass through: the installer runs
`watchd --version` as the service user before it reports success.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).parents[3]
INSTALLER = REPO / "deploy" / "install.sh"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("useradd"),
    reason="the installer creates a system user and sets owners: it needs root",
)


NO_SYSTEMD = (
    "System has not been booted with systemd as init system (PID 1). Can't operate.\n"
    "Failed to connect to bus: Host is down"
)


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A temporary folder the service user can pass through (pytest's is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="watchd-install-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


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


def failing_systemctl(tmp_path: Path) -> Path:
    """A systemctl that fails as it does where systemd is not PID 1, even offline."""
    stub = tmp_path / "systemctl-without-systemd"
    stub.write_text(f"#!/bin/sh\nprintf '%s\\n' \"{NO_SYSTEMD}\" >&2\nexit 1\n")
    stub.chmod(0o755)
    return stub


def run_installer(
    root: Path, systemctl: Path, *args: str, **env_vars: str
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SYSTEMCTL": str(systemctl), "PYTHON": sys.executable, **env_vars}
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
    assert "checked as the watchd user: watchd " in result.stdout
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


def check_the_venv_is_built_from_the_system_interpreter(installed):
    root, _, _, _ = installed
    config = (root / "opt/watchd/venv/pyvenv.cfg").read_text()
    system = Path("/usr/bin/python3")
    too_old = "import sys; sys.exit(sys.version_info < (3, 11))"
    if subprocess.run([system, "-c", too_old], check=False).returncode:
        return  # the test's own interpreter was the given one
    assert "home = /usr/bin" in config.splitlines(), config


def check_a_second_run_without_systemd_changes_nothing_and_keeps_an_edited_config(installed):
    root, _, _, _ = installed
    config = root / "etc/watchd/watchd.yaml"
    config.write_text(config.read_text() + "# edited by the DIT\n")
    before = snapshot(root)
    again = run_installer(root, failing_systemctl(root.parent), "--no-start")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "up to date" in again.stdout
    assert "note: systemctl enable watchd.service did not work here (System has not been" in (
        again.stdout
    )
    assert "sudo systemctl enable --now watchd" in again.stdout
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
    purged = run_installer(root, failing_systemctl(root.parent), "--uninstall", "--purge")
    assert purged.returncode == 0, purged.stdout + purged.stderr
    assert "removed watchd, its configuration, database, logs and user" in purged.stdout
    assert not (root / "etc/watchd").exists()
    assert not (root / "var/lib/watchd").exists()
    assert "watchd:" not in (root / "etc/passwd").read_text()


def test_install_reinstall_and_uninstall_in_a_throwaway_root(open_tmp):
    """One root through its whole life (pip makes each install take a while); the
    second run and the purge meet a systemctl that fails as it does without systemd."""
    installed = install(open_tmp)
    check_the_install_lays_out_files_with_the_right_modes_and_owners(installed)
    check_the_installed_watchd_runs_and_its_sample_config_checks(installed)
    check_the_venv_is_built_from_the_system_interpreter(installed)
    check_systemctl_is_asked_to_enable_the_unit_offline(installed)
    check_a_second_run_without_systemd_changes_nothing_and_keeps_an_edited_config(installed)
    check_uninstall_keeps_config_and_data_and_purge_removes_them(installed)


def private_python(home: Path) -> Path:
    """A Python installed in a folder only root may enter (like a pyenv build under /root)."""
    (home / "bin").mkdir(parents=True)
    (home / "lib").mkdir()
    home.chmod(0o700)
    python = home / "bin/python3"
    shutil.copy(Path(sys.executable).resolve(), python)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    (home / "lib" / version).symlink_to(sysconfig.get_paths()["stdlib"])
    return python


def test_an_interpreter_the_service_user_cannot_run_is_refused_before_pip(open_tmp):
    """As with a pyenv build under /root: the venv would point at a path watchd cannot reach."""
    root = make_root(open_tmp)
    python = private_python(open_tmp / "root-only")
    probe = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(python), "-V"],
        check=False,
        capture_output=True,
    )
    if probe.returncode == 0:  # gVisor and some sandboxes do not check search permission
        pytest.skip("this kernel lets any user run a program in a root-only folder")
    systemctl, log = stub_systemctl(open_tmp)
    result = run_installer(
        root,
        systemctl,
        "--no-start",
        PYTHON=str(python),
        SYSTEM_PYTHON=str(open_tmp / "no-system-python"),
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "building the venv from" in result.stdout
    assert f"the watchd user cannot run the venv's interpreter {python}" in result.stderr
    assert "PYTHON=" in result.stderr
    assert not (root / "opt/watchd/venv").exists()  # a rerun builds it afresh
    assert not (root / "etc/systemd/system/watchd.service").exists()
    assert not log.exists()  # nothing enabled
