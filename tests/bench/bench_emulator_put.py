"""Benchmark: how fast the emulator's S3 port takes presigned part PUTs.

Starts ``python -m watchd emulator --discard`` in a subprocess, pushes
``--total-mib`` through one client as ``--part-mib`` parts (the same buffer
re-used, each PUT with Content-MD5), completes the upload, and prints the
throughput and the share of one CPU the emulator process used.

    .venv/bin/python tests/bench/bench_emulator_put.py [--total-mib 1024] [--part-mib 16] [--keep]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

import requests

MiB = 1024 * 1024


def cpu_seconds(pid: int) -> float:
    """Return user+system CPU seconds of a process from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_emulator(data_dir: str, discard: bool) -> tuple[subprocess.Popen[str], str]:
    """Start the emulator; return the process and the API URL."""
    cmd = [sys.executable, "-m", "watchd", "--log-level", "warning", "emulator"]
    cmd += ["--port", "0", "--s3-port", "0", "--data", data_dir]
    if discard:
        cmd.append("--discard")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("Flow Capture API: "):
            return proc, line.split(": ", 1)[1].strip()
    raise SystemExit("the emulator did not start")


def call(session: requests.Session, api: str, path: str, token: str | None, **data: Any) -> Any:
    headers = {"X-Token": token} if token else {}
    resp = session.post(api + path, json={"data": data}, headers=headers, timeout=60)
    resp.raise_for_status()
    return resp.json()


def push(api: str, total: int, part_size: int) -> tuple[float, int]:
    """Upload ``total`` bytes as one multipart upload; return (seconds, parts)."""
    session = requests.Session()
    token = call(
        session, api, "/authenticate/api", None, email="demo@example.com", api_key="demo-api-key"
    )["token"]
    init = call(session, api, "/upload/asset/init", token, project_id=1000, filename="bench.bin")
    buffer = os.urandom(part_size)
    md5 = base64.b64encode(hashlib.md5(buffer).digest()).decode()
    parts = total // part_size
    etags = []
    started = time.perf_counter()
    for number in range(1, parts + 1):
        url = call(
            session, api, "/upload/asset/part", token, upload_id=init["upload_id"],
            key=init["key"], part_number=number, content_md5=md5,
        )["presigned_url"]  # fmt: skip
        resp = session.put(url, data=buffer, headers={"Content-MD5": md5}, timeout=120)
        resp.raise_for_status()
        etags.append(resp.headers["ETag"])
    elapsed = time.perf_counter() - started
    call(
        session, api, "/upload/asset/complete", token, upload_id=init["upload_id"],
        key=init["key"], etags=etags, filename="bench.bin", project_id=1000,
    )  # fmt: skip
    return elapsed, parts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--total-mib", type=int, default=1024)
    parser.add_argument("--part-mib", type=int, default=16)
    parser.add_argument("--keep", action="store_true", help="store bytes on disk (no --discard)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="emu-bench-") as data_dir:
        proc, api = start_emulator(data_dir, discard=not args.keep)
        try:
            cpu_before = cpu_seconds(proc.pid)
            elapsed, parts = push(api, args.total_mib * MiB, args.part_mib * MiB)
            cpu_used = cpu_seconds(proc.pid) - cpu_before
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    sent = parts * args.part_mib * MiB
    print(f"parts: {parts} x {args.part_mib} MiB ({'disk' if args.keep else 'discard'} mode)")
    print(f"time: {elapsed:.2f} s")
    print(f"throughput: {sent / elapsed / 1e6:.0f} MB/s ({sent / elapsed / MiB:.0f} MiB/s)")
    print(f"emulator CPU: {cpu_used:.2f} s = {100 * cpu_used / elapsed:.0f}% of one core")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
