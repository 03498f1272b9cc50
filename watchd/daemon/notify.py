"""The systemd notification protocol (sd_notify), spoken only when NOTIFY_SOCKET is set.

READY=1 once watching, STATUS= with a one-line summary, WATCHDOG=1 heartbeats
from the main loop (so systemd restarts a daemon whose main loop hangs),
RELOADING=1 / STOPPING=1 around reloads and shutdown. The socket may be a
path or, when it starts with ``@``, an abstract socket.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)


class SystemdNotifier:
    """Sends datagrams to systemd's notification socket (a no-op outside systemd)."""

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        env = os.environ if environ is None else environ
        self.address = _address(env.get("NOTIFY_SOCKET", ""))
        self.watchdog_seconds = _watchdog_interval(env)
        self._clock = clock
        self._last_beat = float("-inf")
        self._sock: socket.socket | None = None
        if self.address is not None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sock.setblocking(False)

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def send(self, **fields: str) -> bool:
        """Send ``KEY=value`` lines; return False (and log) if systemd could not be told."""
        if self._sock is None or self.address is None:
            return False
        message = "\n".join(f"{key}={value}" for key, value in fields.items())
        try:
            self._sock.sendto(message.encode(), self.address)
        except OSError as exc:
            log.warning("could not notify systemd: %s", exc)
            return False
        return True

    def ready(self, status: str) -> None:
        self.send(READY="1", STATUS=status, MAINPID=str(os.getpid()))

    def status(self, text: str) -> None:
        self.send(STATUS=text)

    def reloading(self) -> None:
        self.send(RELOADING="1", STATUS="reloading the configuration")

    def stopping(self) -> None:
        self.send(STOPPING="1", STATUS="stopping")

    def heartbeat(self) -> None:
        """Send WATCHDOG=1 if half the watchdog interval has passed since the last one."""
        if self.watchdog_seconds is None:
            return
        now = self._clock()
        if now - self._last_beat >= self.watchdog_seconds / 2:
            self._last_beat = now
            self.send(WATCHDOG="1")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _address(value: str) -> str | bytes | None:
    if not value:
        return None
    if value.startswith("@"):
        return b"\0" + value[1:].encode()  # abstract namespace
    if value.startswith("/"):
        return value
    log.warning("ignoring NOTIFY_SOCKET %r: neither a path nor an abstract socket", value)
    return None


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):
        return None  # meant for another process
    return int(usec) / 1_000_000
