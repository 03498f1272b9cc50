"""``watchd emulator`` as a process: prints its URLs, serves, stops on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import requests


def test_the_command_prints_urls_serves_and_exits_cleanly_on_sigterm(tmp_path):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "watchd",
            "emulator",
            "--port",
            "0",
            "--s3-port",
            "0",
            "--data",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    try:
        urls = {}
        deadline = time.monotonic() + 20
        while len(urls) < 2 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            name, _, url = line.strip().rpartition(": ")
            if url.startswith("http://"):
                urls[name] = url
        api = urls["Flow Capture API"]
        assert urls["S3 object store"].startswith("http://127.0.0.1:")
        resp = requests.post(
            api + "/authenticate/api",
            json={"data": {"email": "demo@example.com", "api_key": "demo-api-key"}},
            timeout=10,
        )
        assert resp.status_code == 200
        assert len(resp.json()["token"]) == 64
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        proc.stdout.close()
        proc.stderr.close()
    assert (tmp_path / "state.json").exists()


def test_a_bad_world_file_is_reported_with_file_and_key(tmp_path):
    world = tmp_path / "world.yaml"
    world.write_text("users:\n  - {email: a@example.com}\n")
    result = subprocess.run(
        [sys.executable, "-m", "watchd", "emulator", "--port", "0", "--s3-port", "0",
         "--data", str(tmp_path / "d"), "--config", str(world)],
        check=False, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    assert f"{world}: users[0].api_key" in result.stderr
