"""The shipped unit passes systemd-analyze verify and scores 2.0 or lower on security."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

UNIT = Path(__file__).parents[3] / "systemd" / "watchd.service"
INSTALLED_BINARY = "/opt/watchd/venv/bin/watchd"


def unit_with_real_binary(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this checkout's watchd (verify wants it to exist)."""
    binary = shutil.which("watchd") or str(Path(sys.executable).parent / "watchd")
    copy = tmp_path / "watchd.service"
    copy.write_text(UNIT.read_text().replace(INSTALLED_BINARY, binary))
    return copy


def test_the_unit_verifies(tmp_path):
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit_with_real_binary(tmp_path))],
        check=False,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "watchd.service" not in result.stderr, result.stderr


def test_the_unit_is_hardened_to_2_or_better(tmp_path):
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(unit_with_real_binary(tmp_path))],
        check=False,
        capture_output=True,
        text=True,
    )
    match = re.search(r"Overall exposure level for watchd.service: ([0-9.]+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= 2.0


def test_every_hardening_line_is_explained():
    lines = UNIT.read_text().splitlines()
    start = lines.index(
        "# --- Hardening -------------------------------------------------------------"
    )
    end = lines.index("[Install]")
    settings = [
        i for i in range(start + 1, end) if "=" in lines[i] and not lines[i].startswith("#")
    ]
    for i in settings:
        block_start = i
        while (
            block_start > start
            and not lines[block_start - 1].startswith("#")
            and lines[block_start - 1]
        ):
            block_start -= 1
        assert lines[block_start - 1].startswith("#"), f"no comment above: {lines[i]}"
    assert "Type=notify" in lines and "WatchdogSec=60s" in lines
    assert "LoadCredential=api_key:/etc/watchd/api_key" in lines
