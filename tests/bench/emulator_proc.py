"""The emulator as a subprocess of the benchmark: started on free ports
(``--port 0 --s3-port 0``, the URLs read from what it prints), in
``--discard`` mode, optionally with latency and a bandwidth cap."""

from __future__ import annotations

import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.bench.measure import cpu_seconds
from tests.bench.watchd_proc import WatchdSource

START_TIMEOUT_S = 30.0  # the emulator prints its URLs within this
STOP_TIMEOUT_S = 30.0
API_PREFIX = "Flow Capture API: "
S3_PREFIX = "S3 object store: "


@dataclass(frozen=True)
class Link:
    """A network the emulator imitates: added latency per request, bandwidth cap."""

    name: str
    latency_ms: float = 0.0
    bandwidth_bytes_per_s: float | None = None

    def describe(self) -> str:
        """Return e.g. 'loopback' or 'long: +100 ms per request, 125 MB/s'."""
        if not self.latency_ms and not self.bandwidth_bytes_per_s:
            return f"{self.name}: no added latency, no cap"
        parts = [f"+{self.latency_ms:g} ms per request"]
        if self.bandwidth_bytes_per_s:
            parts.append(f"S3 bodies capped at {self.bandwidth_bytes_per_s / 1e6:g} MB/s")
        return f"{self.name}: " + ", ".join(parts)


@dataclass
class EmulatorProcess:
    """A running ``watchd emulator``."""

    link: Link
    proc: subprocess.Popen[bytes]
    api_url: str
    s3_url: str

    def cpu_seconds(self) -> float:
        """Return the CPU seconds the emulator used so far."""
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        """SIGTERM the emulator and wait for it (SIGKILL if it hangs)."""
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT_S)


def start_emulator(source: WatchdSource, link: Link, workdir: Path) -> EmulatorProcess:
    """Start the emulator of checkout ``source`` for ``link``; return it once it serves.

    Raises RuntimeError if it exits or prints no URLs in time (its log is named).
    """
    data = workdir / f"emulator-{link.name}"
    data.mkdir(parents=True, exist_ok=True)
    cmd = source.command("--log-level", "warning", "emulator")
    cmd += ["--discard", "--processing-delay", "0", "--port", "0", "--s3-port", "0"]
    cmd += ["--data", str(data)]
    if link.latency_ms:
        cmd += ["--latency-ms", f"{link.latency_ms:g}"]
    if link.bandwidth_bytes_per_s:
        cmd += ["--bandwidth", f"{link.bandwidth_bytes_per_s:g}"]
    out_path = workdir / f"emulator-{link.name}.out"
    log_path = workdir / f"emulator-{link.name}.log"
    with out_path.open("wb") as out, log_path.open("wb") as log:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=log, cwd=source.directory, env=source.env(),
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and proc.poll() is None:
        urls = _urls(out_path.read_text(errors="replace"))
        if urls is not None:
            return EmulatorProcess(link, proc, *urls)
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    raise RuntimeError(f"the emulator for {link.name} did not start; see {log_path}")


def _urls(printed: str) -> tuple[str, str] | None:
    api = s3 = None
    for line in printed.splitlines():
        if line.startswith(API_PREFIX):
            api = line[len(API_PREFIX) :].strip()
        elif line.startswith(S3_PREFIX):
            s3 = line[len(S3_PREFIX) :].strip()
    return (api, s3) if api and s3 else None
