import argparse

from watchd.base import mounts
from watchd.cli import check_config_cmd


def run(*argv):
    parser = argparse.ArgumentParser(prog="watchd")
    check_config_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["check-config", *argv])
    return args.func(args)


def test_a_good_config_prints_ok_and_exits_0(cfg, capsys):
    cfg.write_main(f"folders:\n  - {{path: {cfg.drop('edit')}, project_id: 1}}\n")
    cfg.write_folder("dailies.yaml", f"path: {cfg.drop('dailies')}\nproject_id: 2\n")
    assert run("--config", str(cfg.main)) == 0
    assert capsys.readouterr().out == "OK: 2 folders (edit, dailies)\n"


def test_every_problem_is_printed_and_exit_is_1(cfg, capsys):
    cfg.write_main(f"folders:\n  - {{path: {cfg.root}/gone, project_id: 1}}\n")
    cfg.key_file.chmod(0o644)
    assert run("--config", str(cfg.main)) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"{cfg.main}:7: folders[0].path: drop folder {cfg.root}/gone")
    assert err[1].startswith(f"{cfg.main}:3: flowcapture.api_key_file: API key file")
    assert err[2] == "2 problems found"


def test_load_errors_are_printed_with_file_and_line(cfg, capsys):
    cfg.write_main("transfer: {part_sise: 8MiB}\n")
    assert run("--config", str(cfg.main)) == 1
    err = capsys.readouterr().err
    assert "transfer.part_sise: unknown key 'part_sise'; did you mean 'part_size'?" in err


def test_the_config_path_defaults_to_watchd_config(cfg, capsys, monkeypatch):
    cfg.write_main()
    monkeypatch.setenv("WATCHD_CONFIG", str(cfg.main))
    assert run() == 0
    assert capsys.readouterr().out == "OK: 0 folders\n"


def test_a_missing_config_file_is_one_clear_problem(tmp_path, capsys):
    assert run("--config", str(tmp_path / "nope.yaml")) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'nope.yaml'}: cannot read: No such file or directory" in err


def test_an_overlap_does_not_hide_a_file_or_a_missing_folder(cfg, capsys):
    shared = cfg.drop("shared")
    not_a_dir = cfg.root / "notes.txt"
    not_a_dir.write_text("a file, not a folder\n")
    cfg.write_main(
        f"folders:\n  - {{name: one, path: {shared}, project_id: 1}}\n"
        f"  - {{name: two, path: {shared}, project_id: 2}}\n"
    )
    cfg.write_folder("file.yaml", f"path: {not_a_dir}\nproject_id: 3\n")
    cfg.write_folder("gone.yaml", f"path: {cfg.root}/gone\nproject_id: 4\n")
    assert run("--config", str(cfg.main)) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"{cfg.main}:8: folders[1].path: same path as drop folder 'one'")
    assert (
        err[1]
        == f"{cfg.folders_d / 'file.yaml'}:1: path: drop folder {not_a_dir} is not a directory"
    )
    assert err[2].startswith(
        f"{cfg.folders_d / 'gone.yaml'}:1: path: drop folder {cfg.root}/gone does not exist"
    )
    assert err[3:] == ["3 problems found"]


def test_a_broken_main_file_does_not_hide_a_missing_folder(cfg, capsys):
    cfg.write_main("transfer: {bandwidth: 40}\n")
    cfg.write_folder("gone.yaml", f"path: {cfg.root}/gone\nproject_id: 4\n")
    assert run("--config", str(cfg.main)) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"{cfg.main}:6: transfer.bandwidth: 40 has no unit")
    assert err[1].startswith(f"{cfg.folders_d / 'gone.yaml'}:1: path: drop folder {cfg.root}/gone")
    assert err[2:] == ["2 problems found"]


def test_verify_off_with_delete_is_a_note_naming_the_folder_not_a_problem(cfg, capsys):
    drop = cfg.drop("dailies")
    cfg.write_main(
        "folders:\n"
        f"  - {{name: cards, path: {drop}, project_id: 1, verify: 'off', after_upload: delete}}\n"
        f"  - {{name: ok, path: {cfg.drop('ok')}, project_id: 1, verify: 'off',"
        " after_upload: delete, allow_unverified_delete: true}\n"
    )
    assert run("--config", str(cfg.main)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("note: folder cards: verify: off with after_upload delete")
    assert "allow_unverified_delete: true" in out[0]
    assert len(out) == 2 and out[1].startswith("OK: 2 folders")


def test_an_archive_folder_not_there_yet_is_a_note_saying_where_it_will_be_made(cfg, capsys):
    archive = cfg.root / "archve" / "day1"  # perhaps a typo: the user should see it
    made = cfg.drop("made")
    cfg.write_main(
        "folders:\n"
        f"  - {{name: cards, path: {cfg.drop('cards')}, project_id: 1,"
        f" after_upload: {{move_to: {archive}}}}}\n"
        f"  - {{name: ok, path: {cfg.drop('ok')}, project_id: 1,"
        f" after_upload: {{move_to: {made}}}}}\n"
    )
    assert run("--config", str(cfg.main)) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"note: folder cards: after_upload.move_to {archive} does not exist yet; "
        f"watchd will create it in {cfg.root} at the first move",
        "OK: 2 folders (cards, ok)",
    ]
    assert not archive.parent.exists(), "checking creates nothing"


def test_a_folder_on_a_network_mount_that_does_not_poll_is_a_note(cfg, capsys, monkeypatch):
    drop = cfg.drop("nas")
    kind = mounts.mount_type(drop)
    monkeypatch.setattr(mounts, "NETWORK_FILESYSTEMS", frozenset({kind}))  # as if a share
    cfg.write_main(
        "folders:\n"
        f"  - {{name: nas, path: {drop}, project_id: 1}}\n"
        f"  - {{name: polled, path: {cfg.drop('polled')}, project_id: 1, poll: true}}\n"
    )
    assert run("--config", str(cfg.main)) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        f"note: folder nas: {drop} is on a {kind} mount: files other machines write there are "
        "only found by the rescan (scan.rescan_interval); set poll: true to see them within "
        "poll_interval"
    )
    assert len(out) == 2 and out[1].startswith("OK: 2 folders")
