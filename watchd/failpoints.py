"""Failpoints: named places where a test can make the daemon die with SIGKILL.

Off unless ``WATCHD_FAILPOINTS`` names them (comma-separated, each optionally
``name=N`` to fire on the N-th pass). The end-to-end tests use them to kill
the real process at exact step boundaries (after init, after a part is
committed, between the server's answer and our commit, mid-move) and prove
that a restart resumes without loss or duplication. In normal runs this is
one dictionary lookup.
"""

from __future__ import annotations

import os
import signal
import threading

ENV_VAR = "WATCHD_FAILPOINTS"


def _parse(spec: str) -> dict[str, int]:
    points: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, count = item.partition("=")
        points[name] = int(count) if count.isdigit() else 1
    return points


_armed = _parse(os.environ.get(ENV_VAR, ""))
_passes: dict[str, int] = {}
_lock = threading.Lock()


def failpoint(name: str) -> None:
    """Kill this process with SIGKILL if ``name`` is armed and its pass count is reached."""
    if name not in _armed:
        return
    with _lock:
        _passes[name] = _passes.get(name, 0) + 1
        fire = _passes[name] == _armed[name]
    if fire:
        os.kill(os.getpid(), signal.SIGKILL)
