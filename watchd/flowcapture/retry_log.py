"""Log lines for retries, without a flood while the whole service is out.

A request that fails on its own is said every time it is tried again. When
the service itself cannot be reached (or refuses the key, or asks to slow
down), every request in flight fails the same way: one line says so, and the
retries after it within QUIET_SECONDS go to the debug level (the daemon's
health line, `health problem: flowcapture`, tells how long it lasts).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from watchd.flowcapture.errors import service_wide

QUIET_SECONDS = 30.0


class _Quiet:
    """When a service-wide retry was last said (one for the whole process)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.said_at: float | None = None  # monotonic

    def due(self) -> bool:
        """True if a line may be said now (and it counts as said)."""
        now = time.monotonic()
        with self.lock:
            if self.said_at is not None and now - self.said_at < QUIET_SECONDS:
                return False
            self.said_at = now
            return True


_QUIET = _Quiet()


def log_retry(logger: logging.Logger, error: BaseException, text: str, *args: Any) -> None:
    """Log ``text % args`` for a request tried again after ``error``."""
    if not service_wide(error):
        logger.warning(text, *args)
    elif _QUIET.due():
        logger.warning(
            text + f" (more such retries in the next {QUIET_SECONDS:.0f}s: debug level only)",
            *args,
        )
    else:
        logger.debug(text, *args)
