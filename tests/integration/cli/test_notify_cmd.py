"""`watchd notify --test` as a real process against a webhook receiver on 127.0.0.1."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import yaml

from tests.integration.notify.servers import WebhookReceiver


def test_notify_test_says_per_target_whether_it_worked_and_never_prints_the_url(tmp_path: Path):
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        dead = spare.getsockname()[1]
    with WebhookReceiver() as hook:
        config = tmp_path / "watchd.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "flowcapture": {"email": "ingest@example.com", "api_key_env": "NO_KEY"},
                    "state_dir": str(tmp_path / "state"),
                    "notify": [
                        {"webhook": hook.url("/services/T1/B1/goodTOKEN1")},
                        {"webhook": f"http://localhost:{dead}/services/T2/B2/deadTOKEN2"},
                    ],
                }
            )
        )
        done = subprocess.run(
            [sys.executable, "-m", "watchd", "notify", "--test", "--config", str(config)],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
    lines = done.stdout.splitlines()
    assert done.returncode == 1, done.stderr
    assert lines[0] == "ok      webhook 127.0.0.1"
    assert lines[1].startswith("FAILED  webhook localhost: ConnectionError")
    assert "TOKEN" not in done.stdout + done.stderr
    ((path, body),) = hook.posts
    assert path == "/services/T1/B1/goodTOKEN1" and body["event"] == "test"
    assert "this target works" in body["text"]
