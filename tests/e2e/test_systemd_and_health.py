"""The daemon talks to systemd over NOTIFY_SOCKET and reports health problems."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from typing import Any

import requests
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.harness import DEMO_API_KEY, MIB, wait_until, write_file


def messages(sock: socket.socket) -> list[dict[str, str]]:
    out = []
    while True:
        try:
            data = sock.recv(65536)
        except BlockingIOError:
            return out
        out.append(dict(line.split("=", 1) for line in data.decode().splitlines()))


def test_ready_status_watchdog_and_stopping_are_sent(site, tmp_path, monkeypatch):
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.setblocking(False)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")
    received: list[dict[str, str]] = []
    drop = site.add_folder()
    site.start()

    def seen(key: str, value: str | None = None) -> bool:
        received.extend(messages(sock))
        return any(key in m and (value is None or m[key] == value) for m in received)

    wait_until(lambda: seen("READY", "1"), 20, "READY=1")
    ready = next(m for m in received if m.get("READY") == "1")
    assert ready["STATUS"].startswith("1 folder, 0 uploading, 0 queued, 0 failed")
    wait_until(lambda: seen("WATCHDOG", "1"), 10, "a watchdog heartbeat")
    write_file(drop / "a.mov", MIB)
    wait_until(lambda: site.all_done(1), 30)
    assert site.stop() == 0
    wait_until(lambda: seen("STOPPING", "1"), 5, "STOPPING=1")
    assert sum(1 for m in received if m.get("WATCHDOG") == "1") >= 2
    sock.close()


def test_a_refused_api_key_is_a_health_problem_in_status(site):
    site.key_file.write_text("not-the-key\n")
    site.add_folder()
    site.start()
    wait_until(lambda: "health problem: authentication" in site.log(), 20)

    def status() -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
        command = [sys.executable, "-m", "watchd", "status", "--config", str(site.config_path)]
        done = subprocess.run(
            [*command, "--json"], check=False, capture_output=True, text=True, env={**os.environ}
        )
        return done, json.loads(done.stdout)

    # The login's failure is logged a moment before the folder's lookup records it, and
    # the status file is rewritten every two seconds: look until both are in.
    wait_until(lambda: status()[1]["folders"][0]["health"] != "ok", 10, "the folder's health")
    result, report = status()
    assert result.returncode == 1
    assert "refused the API key" in report["problems"]["authentication"]
    assert report["folders"][0]["health"] == "project-unresolved"
    assert "not-the-key" not in site.log() + result.stdout


def test_a_key_put_right_in_its_file_is_used_without_a_restart(site):
    site.key_file.write_text("not-the-key\n")
    drop = site.add_folder()
    site.start()
    wait_until(lambda: "health problem: authentication" in site.log(), 20, "the key refused")
    write_file(drop / "Roll1" / "a.mov", MIB)
    site.key_file.write_text(DEMO_API_KEY + "\n")  # the DIT fixes the file; no restart
    wait_until(lambda: site.all_done(1), 60, "the file done with the new key")
    log = site.log()
    assert "the API key of demo@example.com changed at its source; using the new one" in log
    assert "health problem over: authentication" in log
    assert DEMO_API_KEY not in log and "not-the-key" not in log
    assert site.stop() == 0


def test_the_metrics_endpoint_serves_prometheus_text(site):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    drop = site.add_folder()
    site.write_config()
    site.config_path.write_text(
        site.config_path.read_text() + f"metrics: {{listen: '127.0.0.1:{port}'}}\n"
    )
    site.process = subprocess.Popen(
        [sys.executable, "-m", "watchd", "run", "--config", str(site.config_path)],
        stdout=site.log_path.open("ab"),
        stderr=subprocess.STDOUT,
    )
    write_file(drop / "a.mov", 3 * MIB)
    wait_until(lambda: site.all_done(1), 40)
    response = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == CONTENT_TYPE_LATEST
    lines = response.text.splitlines()
    assert "# TYPE watchd_parts_uploaded_total counter" in lines
    found = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    assert found["watchd_jobs", (("state", "done"),)] == 1
    assert found["watchd_uploaded_bytes_total", ()] == 3 * MIB
    assert found["watchd_folder_healthy", (("folder", "dailies"),)] == 1
    assert found["watchd_parts_uploaded_total", ()] == 1
    # Observed as the file went up: one part's latency, one file's throughput.
    assert found["watchd_part_upload_seconds_count", ()] == 1
    assert 0 < found["watchd_part_upload_seconds_sum", ()] < 30
    assert found["watchd_upload_throughput_bytes_per_second_count", ()] == 1
    assert requests.get(f"http://127.0.0.1:{port}/other", timeout=10).status_code == 404
