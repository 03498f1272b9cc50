import os
import signal
import subprocess
import sys
import time

from tests.integration.conftest import wait_for

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

    def committed_parts():
        uploads = emulator.snapshot()["uploads"]
        return uploads and sum(1 for p in uploads[0]["parts"] if p["etag"]) >= 2

    wait_for(committed_parts, timeout=60)
    time.sleep(0.3)  # let the daemon-side commit of the last ETag land
    first.send_signal(signal.SIGKILL)
    first.wait(10)
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
    assert sum(puts.values()) <= 6 + 1, "only the part in flight at the kill is sent again"
    assert puts["1"] == puts["2"] == 1
    assert emulator.snapshot()["requests"]["/upload/asset/init"] == 1
