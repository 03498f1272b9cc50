"""The status page in a real browser (Debian's headless Chromium) while a file uploads.

The page is served by the daemon's listener (``metrics.listen``); Chromium is
driven by Playwright's Python client, launched from /usr/bin/chromium
(`scripts/test` installs the Debian package when it is missing).
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import BrowserContext, expect, sync_playwright

from tests.e2e.harness import DEMO_API_KEY, MIB, Site, wait_until, write_file

CHROMIUM = "/usr/bin/chromium"
# What Chromium needs on this machine: no sandbox as root, no GPU, and no calls home
# (the network is closed, so every background request would be refused and retried).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[BrowserContext]:
    profile = tmp_path / "chromium-profile"  # a new, empty profile each time
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=CHROMIUM_FLAGS
        )
        try:
            yield context
        finally:
            context.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_with_listener(site: Site, port: int) -> None:
    site.write_config()
    with site.config_path.open("a") as config:
        config.write(f"metrics: {{listen: '127.0.0.1:{port}'}}\n")
    with site.log_path.open("ab") as log:
        site.process = subprocess.Popen(
            [sys.executable, "-m", "watchd", "run", "--config", str(site.config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def in_flight(base: str) -> list[dict[str, object]]:
    """The transfers /status.json lists (none while the daemon is still starting)."""
    try:
        return list(requests.get(f"{base}/status.json", timeout=5).json()["transfers"])
    except requests.ConnectionError:
        return []


def test_the_status_page_shows_an_upload_in_flight_and_follows_it(site, browser, tmp_path):
    site.transfer.update({"parallel_parts": 1, "bandwidth": "2MB/s"})
    drop = site.add_folder()
    write_file(drop / "A001_C002.mov", 16 * MIB)  # about 8 s at the cap: room for a slow CI
    port = free_port()
    start_with_listener(site, port)
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: in_flight(base), 20, "an upload in flight on /status.json")

    page = browser.new_page()
    outside: list[str] = []  # every request that is not to the daemon itself
    page.on("request", lambda r: None if r.url.startswith(base) else outside.append(r.url))
    page.goto(base + "/")
    row = page.locator("#transfers tr", has_text="A001_C002.mov")
    expect(row).to_be_visible()
    expect(row).to_contain_text("dailies")
    expect(row).to_contain_text(re.compile(r"\d\.\d MB/s"))
    expect(page.locator("#folders")).to_contain_text("ok")
    expect(page.locator("#bandwidth")).to_contain_text("2MB/s")
    expect(page.locator("#count-uploading")).to_have_text("1 uploading")
    expect(page.locator("#batches")).to_contain_text("dailies")
    bar = row.locator("progress")
    first = float(bar.get_attribute("value") or 0)

    # The page refreshes itself: the bar moves without a reload, at a measured rate.
    wait_until(lambda: float(bar.get_attribute("value") or 0) > first, 5, "the bar to move")
    expect(row).not_to_contain_text("0.0 MB/s")
    page.screenshot(path=str(tmp_path / "status-page.png"), full_page=True)
    assert (tmp_path / "status-page.png").stat().st_size > 5000

    # `watchd status` shows the same file with its percent, rate and time left.
    shown = subprocess.run(
        [sys.executable, "-m", "watchd", "status", "--config", str(site.config_path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    ).stdout
    line = next(x for x in shown.splitlines() if "A001_C002.mov" in x)
    assert re.search(r"\d+\.\d%\s+\d+\.\d MB/s\s+ETA (\d+s|-)", line), line

    # Once it is up the page says so.
    expect(page.locator("#transfers")).to_have_text("Nothing in flight.", timeout=30_000)
    text = page.content()
    assert DEMO_API_KEY not in text
    assert "Signature" not in text and "X-Amz" not in text  # no presigned URL
    assert outside == []  # no CDN, no external asset
