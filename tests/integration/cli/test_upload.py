import os
import signal
import sqlite3
import stat
import subprocess
import sys

import yaml

from tests.integration.conftest import wait_for
from watchd.cli.main import main

MIB = 1024 * 1024


def test_a_one_shot_upload_lands_tagged_in_its_batch(cli, emulator, tmp_path):
    files = [tmp_path / "a.mov", tmp_path / "b.mov"]
    for i, path in enumerate(files):
        path.write_bytes(os.urandom((6 + i) * MIB))
    state = tmp_path / "state"
    rows = cli.json(
        "upload",
        *map(str, files),
        "--folder",
        "Demo Production/Dailies",
        "--batch",
        "Cut {v2}",
        "--tag",
        "review",
        "--meta",
        "cut=2",
        "--state-dir",
        str(state),
    )
    assert [r["state"] for r in rows] == ["done", "done"]
    assert {r["batch"] for r in rows} == {"Cut {v2}"}
    calls = emulator.snapshot()["complete_upload_calls"]
    assert len(calls) == 1 and calls[0]["batch_name"] == "Cut {v2}" and len(calls[0]["keys"]) == 2
    wait_for(lambda: len([a for a in emulator.snapshot()["assets"] if a["visible"]]) == 2)
    assets = {a["name"]: a for a in emulator.snapshot()["assets"]}
    assert assets["a.mov"]["tags"] == ["review"]
    assert assets["a.mov"]["metadata"]["cut"] == "2"

    again = cli.json(
        "upload", str(files[0]), "--folder", "Demo Production/Dailies", "--state-dir", str(state)
    )
    assert again[0]["state"] == "done"
    assert emulator.snapshot()["requests"]["/upload/asset/init"] == 2, "not uploaded twice"


def test_an_unknown_folder_or_file_is_a_clear_error(cli, tmp_path):
    code, _, err = cli("upload", str(tmp_path / "nope.mov"), "--folder", "Demo Production/Dailies")
    assert code == 1 and "is not a file" in err
    (tmp_path / "x.mov").write_bytes(b"x")
    code, _, err = cli("upload", str(tmp_path / "x.mov"), "--folder", "Demo Production/Dalies")
    assert code == 1 and "did you mean 'Dailies'" in err


def test_a_killed_one_shot_upload_resumes_without_resending_parts(emulator, tmp_path):
    source = tmp_path / "big.mov"
    source.write_bytes(os.urandom(30 * MIB))
    emulator.set_faults({"bandwidth_bytes_per_s": 6 * MIB})
    command = [
        sys.executable,
        "-m",
        "watchd",
        "upload",
        str(source),
        "--folder",
        "Demo Production/Dailies",
        "--email",
        "demo@example.com",
        "--url",
        emulator.api_url,
        "--state-dir",
        str(tmp_path / "state"),
        "--part-size",
        "5MiB",
        "--parallel",
        "1",
        "--json",
    ]
    env = {**os.environ, "WATCHD_API_KEY": "demo-api-key"}
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    database = tmp_path / "state" / "watchd.db"

    def committed_parts() -> list[int]:
        """The parts whose ETag the killed process had written down."""
        if not database.exists():
            return []
        try:
            with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30) as conn:
                rows = conn.execute("SELECT number FROM parts WHERE etag IS NOT NULL")
                return sorted(number for (number,) in rows)
        except sqlite3.OperationalError:
            return []

    wait_for(lambda: len(committed_parts()) >= 2, timeout=60)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    kept = committed_parts()
    emulator.set_faults({"bandwidth_bytes_per_s": None})

    second = subprocess.run(
        command, check=False, env=env, capture_output=True, text=True, timeout=120
    )
    assert second.returncode == 0, second.stderr
    uploads = emulator.snapshot()["uploads"]
    assert len(uploads) == 1, (uploads, second.stdout, second.stderr)
    key = uploads[0]["key"]
    puts = emulator.snapshot()["part_puts"][key]
    assert len(puts) == 6
    assert len(kept) >= 2
    assert all(puts[str(number)] == 1 for number in kept), (kept, puts)
    assert emulator.snapshot()["requests"]["/upload/asset/init"] == 1


def test_upload_with_a_config_creates_its_missing_state_folder_as_the_installer_does(
    emulator, tmp_path, capsys
):
    key = tmp_path / "api_key"
    key.write_text("demo-api-key\n")
    key.chmod(0o600)
    state = tmp_path / "var" / "lib" / "watchd"
    config = tmp_path / "watchd.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "flowcapture": {
                    "url": emulator.api_url,
                    "email": "demo@example.com",
                    "api_key_file": str(key),
                },
                "state_dir": str(state),
                "folders": [],
            }
        )
    )
    source = tmp_path / "clip.mov"
    source.write_bytes(b"x" * 1000)
    previous = os.umask(0o022)
    try:
        code = main(
            ["upload", str(source), "--folder", "Demo Production/Dailies", "--config", str(config)]
        )
    finally:
        os.umask(previous)
    _, err = capsys.readouterr()
    assert code == 0, err
    assert stat.S_IMODE(state.stat().st_mode) == 0o750
    assert (state / "watchd.db").is_file()
