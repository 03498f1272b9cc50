"""Notifications from a running daemon to a local webhook receiver."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import yaml

from tests.e2e.harness import MIB, Site, wait_until, write_file


class Receiver:
    """A local incoming webhook: keeps every JSON body it is sent."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/T000/SECRET-TOKEN"

    def kinds(self) -> list[str]:
        return [event["kind"] for body in self.bodies for event in body["events"]]

    def close(self) -> None:
        self.server.shutdown()


class NotifyingSite(Site):
    """A site whose config sends notifications to ``webhook``, gathered for 1 s."""

    webhook = ""

    def write_config(self) -> None:
        super().write_config()
        config = yaml.safe_load(self.config_path.read_text())
        config["notify"] = [{"webhook": self.webhook, "every": "1s"}]
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False))


def test_a_running_daemon_reports_start_batch_done_and_stop_without_leaking_the_url(
    tmp_path, emulator
):
    receiver = Receiver()
    (tmp_path / "site").mkdir()
    site = NotifyingSite(tmp_path / "site", emulator)
    site.webhook = receiver.url
    drop = site.add_folder()
    try:
        site.start()
        wait_until(lambda: "started" in receiver.kinds(), 30, "the started message")
        write_file(drop / "Roll1" / "A001.mov", MIB)
        write_file(drop / "Roll1" / "A002.mov", MIB)
        wait_until(lambda: "batch_done" in receiver.kinds(), 60, "the batch done message")
        (done,) = [b for b in receiver.bodies if b["event"] == "batch_done"]
        assert done["files"] == 2 and done["bytes"] == 2 * MIB and done["batch"] == "Roll1"
        assert "Roll1" in done["text"]
        assert site.stop() == 0
        wait_until(lambda: "stopped" in receiver.kinds(), 10, "the stopped message")
        assert "SECRET-TOKEN" not in site.log()
    finally:
        site.kill()
        receiver.close()
