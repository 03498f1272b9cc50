import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time

import yaml

from tests.integration.conftest import wait_for
from watchd.cli.main import main

MIB = 1024 * 1024
DAILIES = "Demo Production/Dailies"


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


def test_the_state_is_opened_during_the_folder_lookup_and_either_failure_is_reported(
    cli, emulator, tmp_path
):
    clip = tmp_path / "x.mov"
    clip.write_bytes(b"x" * 1000)
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    code, _, err = cli("upload", str(clip), "--folder", DAILIES, "--state-dir", f"{blocked}/s")
    assert code == 1 and str(blocked) in err, err
    state = tmp_path / "state"
    code, _, err = cli(
        "upload", str(clip), "--folder", "Demo Production/Dalies", "--state-dir", str(state)
    )
    assert code == 1 and "did you mean 'Dailies'" in err
    assert (state / "watchd.db").is_file(), "opened meanwhile (and closed: used again below)"
    rows = cli.json("upload", str(clip), "--folder", DAILIES, "--state-dir", str(state))
    assert [r["state"] for r in rows] == ["done"]
    assert emulator.snapshot()["requests"]["/upload/asset/init"] == 1
    with sqlite3.connect(state / "watchd.db") as db:  # as a newer watchd would leave it
        db.execute("UPDATE alembic_version SET version_num = '9999'")
    code, _, err = cli("upload", str(clip), "--folder", DAILIES, "--state-dir", str(state))
    assert code == 1 and "Traceback" not in err, err
    assert "schema revision 9999" in err and "written by a newer watchd" in err


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


def make_card(root):
    """A camera card copy: two clips, a sidecar and OS junk.

    (Skipping ascmhl/ is tested in tests/unit/cli/test_upload_files.py: a history
    here would have to be a real one, which is watchd.custody's business.)
    """
    for rel, size in (
        ("A001/CLIPS/C0001.MXF", 2 * MIB),
        ("A001/CLIPS/C0002.MXF", MIB),
        ("A001/CLIPS/C0001.XML", 100),
        ("A001/.DS_Store", 10),
        ("A001/CLIPS/._C0001.MXF", 10),
    ):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
    return root / "A001"


def test_a_card_folder_goes_up_as_one_batch_of_its_media_counted_first(cli, emulator, tmp_path):
    card = make_card(tmp_path)
    state = tmp_path / "state"
    code, out, err = cli(
        "upload", f"{card}/", "--folder", "Demo Production/Dailies", "--state-dir", str(state)
    )
    assert code == 0, err
    assert err.startswith(
        "watchd upload: 3 files, 3.1 MB (2 left out: hidden, junk or special files) "
        "to Demo Production/Dailies\n"
    )
    calls = emulator.snapshot()["complete_upload_calls"]
    assert len(calls) == 1 and len(calls[0]["keys"]) == 3
    names = sorted(a["name"] for a in emulator.snapshot()["assets"])
    assert names == ["C0001.MXF", "C0001.XML", "C0002.MXF"]  # named after the file, as the daemon
    with sqlite3.connect(state / "watchd.db") as conn:
        relpaths = sorted(r for (r,) in conn.execute("SELECT relpath FROM jobs"))
    assert relpaths == ["A001/CLIPS/C0001.MXF", "A001/CLIPS/C0001.XML", "A001/CLIPS/C0002.MXF"]
    assert out.count(", processing in Flow Capture\n") == 3

    code, again, _ = cli(
        "upload", f"{card}/", "--folder", "Demo Production/Dailies", "--state-dir", str(state)
    )
    assert code == 0 and again.count(", uploaded by an earlier run\n") == 3
    assert again.endswith("nothing sent: the 3 file(s) were uploaded by an earlier run\n")
    assert len(emulator.snapshot()["complete_upload_calls"]) == 1


def test_include_and_exclude_choose_files_of_a_folder(cli, emulator, tmp_path):
    card = make_card(tmp_path)
    rows = cli.json(
        "upload",
        str(card),
        "--folder",
        "Demo Production/Dailies",
        "--include",
        "*.mxf",
        "--exclude",
        "*/C0002.*",
        "--state-dir",
        str(tmp_path / "state"),
    )
    assert [(r["file"], r["state"]) for r in rows] == [(str(card / "CLIPS/C0001.MXF"), "done")]
    assert rows[0]["listed"] is None, "not looked for without --wait"
    assert [a["name"] for a in emulator.snapshot()["assets"]] == ["C0001.MXF"]


def test_without_wait_the_upload_ends_before_flow_capture_lists_the_asset(cli, emulator, tmp_path):
    emulator.set_faults({"processing_delay_s": 30})
    clip = tmp_path / "clip.mov"
    clip.write_bytes(os.urandom(MIB))
    code, out, err = cli(
        "upload", str(clip), "--folder", DAILIES, "--state-dir", str(tmp_path / "s")
    )
    assert code == 0, err
    assert ", processing in Flow Capture\n" in out
    assert "1 file(s) uploaded and processing in Flow Capture" in out
    assert "--wait waits for that" in out
    assert [a["visible"] for a in emulator.snapshot()["assets"]] == [False]


def test_wait_returns_once_every_asset_is_listed(cli, emulator, tmp_path):
    emulator.set_faults({"processing_delay_s": 1.5})
    card = make_card(tmp_path)
    rows = cli.json(
        "upload", str(card), "--folder", DAILIES, "--wait", "--state-dir", str(tmp_path / "s")
    )
    assert [r["listed"] for r in rows] == [True, True, True]
    assets = emulator.snapshot()["assets"]
    assert len(assets) == 3 and all(a["visible"] for a in assets)


def test_wait_gives_up_after_its_timeout_with_a_clear_message(cli, emulator, tmp_path):
    emulator.set_faults({"processing_delay_s": 60})
    clip = tmp_path / "clip.mov"
    clip.write_bytes(os.urandom(MIB))
    started = time.monotonic()
    code, out, err = cli(
        "upload",
        str(clip),
        "--folder",
        DAILIES,
        "--wait",
        "--wait-timeout",
        "2s",
        "--state-dir",
        str(tmp_path / "s"),
    )
    assert code == 1
    assert time.monotonic() - started < 20
    assert "1 of 1 asset(s) not listed after 2s: uploaded, but still processing" in err
    assert "`watchd assets 'Demo Production/Dailies'` shows them" in err
    assert "clip.mov: asset " in out and out.rstrip().endswith(", processing in Flow Capture")
    code, _, err = cli("upload", str(clip), "--folder", DAILIES, "--wait-timeout", "soon")
    assert code == 0, "--wait-timeout alone does not wait"
    code, _, err = cli("upload", str(clip), "--folder", DAILIES, "--wait", "--wait-timeout", "soon")
    assert code == 1 and "--wait-timeout" in err
