"""`watchd upload` draws rich's progress bar on a terminal only; plain output otherwise."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import time
from pathlib import Path

MIB = 1024 * 1024
BAR = "━"  # rich's bar glyph


def upload_args(emulator, path: Path, tmp_path: Path) -> list[str]:
    return [
        sys.executable, "-m", "watchd", "upload", str(path),
        "--folder", "Demo Production/Dailies", "--state-dir", str(tmp_path / "state"),
        "--email", "demo@example.com", "--url", emulator.api_url,
    ]  # fmt: skip


def env() -> dict[str, str]:
    return {**os.environ, "WATCHD_API_KEY": "demo-api-key", "COLUMNS": "120"}


def test_on_a_terminal_the_upload_shows_a_progress_bar(emulator, tmp_path):
    clip = tmp_path / "clip.mov"
    clip.write_bytes(os.urandom(6 * MIB))
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        upload_args(emulator, clip, tmp_path),
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env=env(),
    )
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the command ended
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert process.wait(30) == 0, seen.decode(errors="replace")
    text = seen.decode(errors="replace")
    assert BAR in text, text
    assert "1 file(s)" in text and "100%" in text
    assert "sent" in text


def test_without_a_terminal_the_output_stays_plain(emulator, tmp_path):
    clip = tmp_path / "clip.mov"
    clip.write_bytes(os.urandom(6 * MIB))
    result = subprocess.run(
        upload_args(emulator, clip, tmp_path),
        capture_output=True,
        text=True,
        env=env(),
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert BAR not in result.stdout + result.stderr
    assert "\r" not in result.stdout + result.stderr
    assert "\x1b[" not in result.stdout + result.stderr  # no terminal control codes
    assert "clip.mov" in result.stdout
