"""The peer tools: aws-cli (v1) and rclone, configured for the emulator's S3 port.

aws-cli runs with its defaults (max_concurrent_requests 10, multipart
threshold and chunk size 8 MiB); rclone with its defaults written out
(--transfers 4, --checkers 8, --s3-upload-concurrency 4, --s3-chunk-size
5Mi, --s3-upload-cutoff 200Mi). Both use path-style addressing and dummy
keys (the emulator accepts AWS signatures unverified and any bucket name).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

BUCKET = "bench"
DUMMY_KEY = "bench-dummy-key"
RCLONE_DEFAULTS = [
    "--transfers", "4", "--checkers", "8", "--s3-upload-concurrency", "4",
    "--s3-chunk-size", "5Mi", "--s3-upload-cutoff", "200Mi",
]  # fmt: skip


@dataclass(frozen=True)
class Peer:
    """A peer tool, or why it cannot run (``skip``)."""

    name: str
    executable: str
    version: str = ""
    skip: str = ""


def clean_env() -> dict[str, str]:
    """Return this environment without AWS_* and RCLONE_* variables.

    (An inherited AWS_CA_BUNDLE makes rclone 1.60 refuse to start, even for http.)
    """
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RCLONE_"))}


def find_peer(name: str, executable: str, skip_note: Path | None) -> Peer:
    """Return the peer, with ``skip`` set when it is not installed.

    ``skip_note`` is the file in which scripts/bench wrote why an install failed.
    """
    if skip_note is not None and skip_note.exists():
        return Peer(name, executable, skip=skip_note.read_text().strip())
    found = shutil.which(executable)
    if found is None:
        return Peer(name, executable, skip=f"{executable} not found; run scripts/bench")
    path = os.path.abspath(found)
    args = ["version"] if name == "rclone" else ["--version"]
    try:
        out = subprocess.run(
            [path, *args], check=False, capture_output=True, text=True, timeout=60, env=clean_env()
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Peer(name, path, skip=f"{path} does not run: {exc}")
    if out.returncode != 0:
        return Peer(name, path, skip=f"{path} does not run: {out.stderr.strip()[-200:]}")
    first = (out.stdout or out.stderr).strip().splitlines()
    return Peer(name, path, version=first[0] if first else "")


def aws_env(peer: Peer, workdir: Path) -> dict[str, str]:
    """Return the environment for aws-cli: dummy keys, a private config with
    path-style addressing, checksums only when required."""
    config = workdir / "aws-config"
    env = clean_env()
    env.update(
        AWS_CONFIG_FILE=str(config),
        AWS_SHARED_CREDENTIALS_FILE=str(workdir / "aws-credentials"),
        AWS_ACCESS_KEY_ID=DUMMY_KEY,
        AWS_SECRET_ACCESS_KEY=DUMMY_KEY,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REQUEST_CHECKSUM_CALCULATION="when_required",
        AWS_EC2_METADATA_DISABLED="true",
    )
    if not config.exists():
        subprocess.run(
            [peer.executable, "configure", "set", "default.s3.addressing_style", "path"],
            env=env, check=True, capture_output=True, timeout=60,
        )  # fmt: skip
    return env


def aws_command(peer: Peer, s3_url: str, source: Path, prefix: str) -> list[str]:
    """Return ``aws s3 cp --recursive`` of ``source`` to ``s3://bench/PREFIX/``."""
    return [
        peer.executable, "--endpoint-url", s3_url, "s3", "cp", "--recursive",
        str(source), f"s3://{BUCKET}/{prefix}/", "--no-progress", "--only-show-errors",
    ]  # fmt: skip


def rclone_config(workdir: Path, link: str, s3_url: str) -> Path:
    """Write (once per link) an rclone config with the remote ``emu``; return its path."""
    path = workdir / f"rclone-{link}.conf"
    path.write_text(
        "[emu]\ntype = s3\nprovider = Other\n"
        f"access_key_id = {DUMMY_KEY}\nsecret_access_key = {DUMMY_KEY}\n"
        f"endpoint = {s3_url}\nforce_path_style = true\nregion = us-east-1\n"
    )
    path.chmod(0o600)
    return path


def rclone_command(peer: Peer, config: Path, source: Path, prefix: str) -> list[str]:
    """Return ``rclone copy`` of ``source`` to ``emu:bench/PREFIX`` with the defaults."""
    return [
        peer.executable, "--config", str(config), "copy", str(source),
        f"emu:{BUCKET}/{prefix}", *RCLONE_DEFAULTS,
    ]  # fmt: skip
