"""`watchd demo` started twice, as a new user would: the sample clip once, the config kept."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import yaml

from tests.e2e.harness import wait_until
from tests.e2e.test_status_page import free_port


def ports_of_demo_in(config: Path) -> int:
    """The emulator port a demo config names."""
    url = yaml.safe_load(config.read_text())["flowcapture"]["url"]
    return int(url.rsplit(":", 1)[1].rstrip("/"))


class Demo:
    """A `watchd demo` process; its output is collected line by line."""

    def __init__(self, base: Path, *ports: int | None):
        names = ("--port", "--s3-port", "--status-port")
        options = [(n, str(p)) for n, p in zip(names, ports, strict=True) if p is not None]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "watchd", "demo", "--dir", str(base)]
            + [word for pair in options for word in pair],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=base.parent,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        try:
            wait_until(lambda: "watchd demo is running." in self.output, 30, "the demo running")
        except BaseException:
            self.process.kill()  # (no demo left behind by a failed test)
            self.process.wait(10)
            raise

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)  # Ctrl-C
        return self.process.wait(30)


def test_a_second_start_carries_on_with_the_config_as_edited_and_no_second_sample(tmp_path):
    api, s3, status = free_port(), free_port(), free_port()
    base = tmp_path / "watchd-demo"
    log = base / "watchd.log"
    with socket.socket() as taken:  # someone else listens on the status page's port
        taken.bind(("127.0.0.1", status))
        taken.listen()
        first = Demo(base, api, s3, status)
        try:
            config = base / "watchd.yaml"
            written = config.read_text()
            assert f"127.0.0.1:{status}" not in written and "127.0.0.1:0" not in written
            assert "status page:           http://127.0.0.1:None" not in first.output
            assert f"note: the status page is not on port {status}: " in first.output
            wait_until(lambda: "done: file=" in log.read_text(), 60, "the sample clip done")
        finally:
            assert first.stop() == 0
    config.write_text(written.replace("settle: 3s", "settle: 4s"))

    second = Demo(base, api, s3, status)
    try:
        assert "sample clip arrives" not in second.output
        assert f"not on port {status}: {config} has metrics.listen: 127.0.0.1:" in second.output
        wait_until(lambda: log.read_text().count(" running: ") >= 2, 30, "the second daemon up")
        threading.Event().wait(4)  # (a sample would have been dropped 2 s after the start)
        assert list((base / "drop" / "Day01").iterdir()) == []
        assert config.read_text().count("settle: 4s") == 1, "the edit kept"
        assert list(base.glob("*.bak")) == []
        again = subprocess.run(
            [sys.executable, "-m", "watchd", "demo", "--dir", str(base)],
            check=False, capture_output=True, text=True, timeout=30, cwd=base.parent,
        )  # fmt: skip
        assert again.returncode == 1 and "a demo already runs in" in again.stderr
    finally:
        assert second.stop() == 0
    assert log.read_text().count("uploaded: file=") == 1

    with socket.socket() as taken:  # the emulator's port is someone else's now
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # (past TIME_WAIT)
        taken.bind(("127.0.0.1", api))
        taken.listen()
        assert Demo(base, api, s3, status).stop() == 0
    (backup,) = base.glob("watchd.yaml.*.bak")
    assert backup.read_text().count("settle: 4s") == 1, "the edited config kept aside"
    assert f"127.0.0.1:{api}" not in config.read_text()
    moved_to = ports_of_demo_in(config)
    back = Demo(base, None, s3, status)  # no --port: the one its config names is used again
    try:
        assert f"Flow Capture emulator: http://127.0.0.1:{moved_to}" in back.output
    finally:
        assert back.stop() == 0
    assert list(base.glob("*.bak")) == [backup], "kept: it names the emulator's port"


def test_two_demos_started_at_the_same_instant_leave_one_running_and_the_config_alone(tmp_path):
    base = tmp_path / "watchd-demo"
    command = [sys.executable, "-m", "watchd", "demo", "--dir", str(base), "--no-sample"]
    ports = ["--port", str(free_port()), "--s3-port", str(free_port())]
    both = [
        subprocess.Popen(
            command + ports,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=tmp_path,
        )
        for _ in range(2)
    ]
    try:
        wait_until(lambda: any(p.poll() is not None for p in both), 30, "one demo refused")
        (refused,) = [p for p in both if p.poll() is not None]
        (running,) = [p for p in both if p is not refused]
        assert refused.returncode == 1
        assert "a demo already runs in" in (refused.stdout.read() if refused.stdout else "")
        config = base / "watchd.yaml"
        wait_until(config.exists, 30, "the running demo's config")
        assert list(base.glob("*.bak")) == [], "the refused one wrote no config"
        assert running.poll() is None, "the other demo runs on"
    finally:
        for process in both:
            process.send_signal(signal.SIGINT)
        assert [p.wait(30) for p in both].count(1) == 1
