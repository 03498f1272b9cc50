import os
import shutil
import tempfile
from pathlib import Path

from watchd.config import load_config
from watchd.config.checks import check_environment, folder_unusable

as_root = os.geteuid() == 0


def test_a_config_whose_folders_exist_passes(cfg):
    cfg.write_main(f"folders:\n  - {{path: {cfg.drop('a')}, project_id: 1}}\n")
    assert check_environment(load_config(cfg.main), environ={}) == []


def test_a_missing_drop_folder_is_reported_with_its_key(cfg):
    cfg.write_main(f"folders:\n  - {{path: {cfg.root}/nowhere, project_id: 1}}\n")
    (problem,) = check_environment(load_config(cfg.main), environ={})
    assert str(problem) == (
        f"{cfg.main}:7: folders[0].path: drop folder {cfg.root}/nowhere does not exist "
        "(not created, or a share not mounted?)"
    )


def test_a_drop_folder_that_is_a_file_is_reported(cfg):
    (cfg.root / "file").write_text("x")
    cfg.write_folder("f.yaml", f"path: {cfg.root}/file\nproject_id: 1\n")
    cfg.write_main()
    (problem,) = check_environment(load_config(cfg.main), environ={})
    assert problem.file == cfg.folders_d / "f.yaml" and problem.key == "path"
    assert "is not a directory" in problem.message


def unusable_as_nobody(path):
    """Return folder_unusable(path) as computed by an unprivileged user (nobody, uid 65534).

    Root reads everything, so a root test run checks from a forked child that
    dropped its privileges; other users check directly.
    """
    if not as_root:
        return folder_unusable(path)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: become nobody, answer through the pipe
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            os.write(write_end, (folder_unusable(path) or "").encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as answer:
        text = answer.read().decode()
    os.waitpid(pid, 0)
    return text or None


def test_an_unreadable_drop_folder_is_reported():
    base = Path(tempfile.mkdtemp(prefix="watchd-perm-", dir="/tmp"))
    try:
        base.chmod(0o755)  # nobody may pass through to the drop folder
        drop = base / "locked"
        drop.mkdir(mode=0o755)
        assert unusable_as_nobody(drop) is None
        drop.chmod(0o000)
        assert unusable_as_nobody(drop) == f"drop folder {drop} is not readable by this user"
    finally:
        (base / "locked").chmod(0o755)
        shutil.rmtree(base)


def test_a_world_readable_key_file_is_reported_and_600_accepted(cfg):
    cfg.write_main()
    cfg.key_file.chmod(0o644)
    (problem,) = check_environment(load_config(cfg.main), environ={})
    assert problem.key == "flowcapture.api_key_file" and problem.line == 3
    assert f"run: chmod 600 {cfg.key_file}" in problem.message
    cfg.key_file.chmod(0o600)
    assert check_environment(load_config(cfg.main), environ={}) == []


def test_a_state_dir_that_cannot_be_created_is_reported(cfg):
    (cfg.root / "blocker").write_text("x")
    cfg.write_main()
    cfg.main.write_text(cfg.main.read_text().replace("state_dir: state", "state_dir: blocker/s"))
    (problem,) = check_environment(load_config(cfg.main), environ={})
    assert problem.key == "state_dir"
    assert "does not exist and cannot be created" in problem.message
