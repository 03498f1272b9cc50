"""One stop token handed to every loop and sleep, and one deadline for every thread.

A :class:`StopToken` is set once, with a reason. Work waits on it instead of
sleeping (``token.sleep(delay)`` ends early and raises :class:`Stopped`), so a
stop reaches a retry wait, a bandwidth wait or a scan within moments. A job's
token is a child of the daemon's: stopping the daemon stops every job, while
cancelling one job stops only that job.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)


class Stopped(Exception):
    """The work was asked to stop; ``reason`` says who asked (shutdown, cancel)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class StopToken:
    """A one-way flag with a reason; children stop when their parent stops."""

    def __init__(self, parent: StopToken | None = None):
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._reason = ""
        self._children: weakref.WeakSet[StopToken] = weakref.WeakSet()
        self._callbacks: list[Callable[[], None]] = []
        self.parent = parent
        if parent is not None:
            parent._adopt(self)

    def _adopt(self, child: StopToken) -> None:
        with self._lock:
            self._children.add(child)
            reason = self._reason if self._event.is_set() else None
        if reason is not None:
            child.stop(reason)

    def child(self) -> StopToken:
        """Return a new token that stops with this one (and can also stop alone)."""
        return StopToken(self)

    def stop(self, reason: str) -> None:
        """Ask everything holding this token (and its children) to stop; the first reason wins."""
        with self._lock:
            if self._event.is_set():
                return
            self._reason = reason
            self._event.set()
            children = list(self._children)
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            _call_quietly(callback)
        for child in children:
            child.stop(reason)

    def on_stop(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Run ``callback`` (on the stopping thread) when this token stops; at once if it has.

        Returns a function that unregisters the callback. Used to cut network
        requests that a flag alone cannot reach (a reply being waited for).
        """
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)
                return lambda: self._forget(callback)
        _call_quietly(callback)
        return lambda: None

    def _forget(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

    @property
    def stopped(self) -> bool:
        return self._event.is_set()

    @property
    def reason(self) -> str:
        """Why it was stopped ("" while it is not)."""
        with self._lock:
            return self._reason

    def check(self) -> None:
        """Raise Stopped if a stop was asked for."""
        if self._event.is_set():
            raise Stopped(self.reason)

    def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds``; return True as soon as a stop is asked for."""
        return self._event.wait(max(seconds, 0.0))

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` unless stopped first; raises Stopped when stopped."""
        if self.wait(seconds):
            raise Stopped(self.reason)


def _call_quietly(callback: Callable[[], None]) -> None:
    try:
        callback()
    except Exception:
        log.exception("a stop callback failed")


def join_all(threads: Iterable[threading.Thread], deadline: float) -> list[threading.Thread]:
    """Join ``threads`` until the monotonic ``deadline``; return those still running."""
    left = []
    for thread in threads:
        if thread is threading.current_thread():
            continue
        thread.join(max(deadline - time.monotonic(), 0.0))
        if thread.is_alive():
            left.append(thread)
    return left
