"""`check-config` for a drop folder naming no project: online it asks Flow Capture
for the API key's folder (the demo world's camera@example.com is tied to Day 01,
demo@example.com to none); offline it says it cannot tell."""

from __future__ import annotations

import argparse

from watchd.cli import check_config_cmd

DAY_01 = 1001


def write_config(tmp_path, url, email, key):
    drop = tmp_path / "drop"
    drop.mkdir()
    key_file = tmp_path / "api_key"
    key_file.write_text(key)
    key_file.chmod(0o600)
    main = tmp_path / "watchd.yaml"
    main.write_text(
        f'flowcapture: {{url: "{url}", email: {email}, api_key_file: api_key}}\n'
        "state_dir: state\n"
        "folders:\n"
        f"  - {{name: cart, path: {drop}}}\n"
    )
    return main


def run(*argv):
    parser = argparse.ArgumentParser(prog="watchd")
    check_config_cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["check-config", *argv])
    return args.func(args)


def test_online_a_folder_without_project_goes_to_the_keys_folder(emulator, tmp_path, capsys):
    main = write_config(tmp_path, emulator.api_url, "camera@example.com", "camera-api-key")
    assert run("--config", str(main), "--online") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == f"OK: 1 folder (cart -> project {DAY_01} (the API key's folder))"


def test_online_a_folder_without_project_is_a_problem_for_a_key_tied_to_none(
    emulator, tmp_path, capsys
):
    main = write_config(tmp_path, emulator.api_url, "demo@example.com", "demo-api-key")
    assert run("--config", str(main), "--online") == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"{main}:4: folders[0].project: no project: or project_id: is set")
    assert "the API key of demo@example.com is not tied to a folder" in err[0]
    assert err[-1] == "1 problem found"


def test_offline_it_says_it_cannot_tell(tmp_path, capsys):
    main = write_config(tmp_path, "http://127.0.0.1:9", "camera@example.com", "camera-api-key")
    assert run("--config", str(main)) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "OK: 1 folder (cart -> the API key's folder (no project: set; only --online can tell "
        "whether the key is tied to one))"
    )
