"""Benchmark: the whole daemon on many files, and its memory.

Starts the emulator (``--discard``) and ``watchd run`` as subprocesses, drops
``--files`` small files plus one ``--big-mib`` file into a folder, waits until
every job is done, and prints files/s, MB/s and the daemon's peak resident
memory (VmHWM), which must not grow with the file count or size.

    .venv/bin/python -m tests.bench.bench_daemon [--files 2000] [--small-kib 64] [--big-mib 1024]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench.bench_emulator_put import start_emulator

MIB = 1024 * 1024
PARALLEL_FILES = os.environ.get("BENCH_FILES_PARALLEL", "4")  # transfer.parallel_files


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def done_count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
            return int(conn.execute("SELECT count(*) FROM jobs WHERE state='done'").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def write_config(root: Path, api: str) -> Path:
    (root / "key").write_text("demo-api-key\n")
    (root / "key").chmod(0o600)
    (root / "drop").mkdir()
    config = root / "watchd.yaml"
    config.write_text(
        f"""flowcapture: {{url: "{api}", email: demo@example.com, api_key_file: key}}
state_dir: state
log: {{file: daemon.log, level: warning}}
transfer: {{part_size: 16MiB, parallel_files: {PARALLEL_FILES}, parallel_parts: 4}}
folders:
  - {{name: bench, path: drop, project: "Demo Production/Dailies", settle: 1s,
      batch: {{name: "{{folder}}", idle: 2s}}}}
"""
    )
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--small-kib", type=int, default=64)
    parser.add_argument("--big-mib", type=int, default=1024)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(os.environ.get("BENCH_DIR") or tmp)
        emulator, api = start_emulator(str(root / "emu"), discard=True)
        config = write_config(root, api)
        daemon = subprocess.Popen(
            [sys.executable, "-m", "watchd", "run", "--config", str(config)],
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(2)
            start = time.perf_counter()
            block = os.urandom(args.small_kib * 1024)
            for i in range(args.files):
                (root / "drop" / f"clip{i:05d}.mov").write_bytes(block)
            with (root / "drop" / "big.mov").open("wb") as out:
                chunk = os.urandom(MIB)
                for _ in range(args.big_mib):
                    out.write(chunk)
            total = args.files + 1
            while done_count(root / "state" / "watchd.db") < total:
                if daemon.poll() is not None:
                    raise SystemExit("the daemon died; see daemon.log")
                time.sleep(0.5)
            elapsed = time.perf_counter() - start
            rss = peak_rss_mib(daemon.pid)
        finally:
            daemon.terminate()
            daemon.wait(30)
            emulator.terminate()
            emulator.wait(30)
    size = args.files * args.small_kib * 1024 + args.big_mib * MIB
    print(f"{total} files ({size / 1e6:.0f} MB) done in {elapsed:.1f}s (settle 1s, idle 2s)")
    print(f"  {total / elapsed:.0f} files/s, {size / elapsed / 1e6:.0f} MB/s")
    print(f"  daemon peak RSS: {rss:.0f} MiB")


if __name__ == "__main__":
    main()
