"""watchdog observers: filesystem events as hints about which paths to look at.

Events are hints, never the truth: a lost event (inotify overflow, a dead
observer thread) only delays a file until the next rescan. inotify is used on
local disks; polling (``poll: true``) on SMB/NFS mounts, where inotify sees
nothing that other machines write.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

log = logging.getLogger(__name__)

INOTIFY_LIMIT_HINT = (
    "raise it with: sudo sysctl fs.inotify.max_user_watches=524288 "
    "(persist in /etc/sysctl.d/90-watchd.conf), or set poll: true for this folder"
)


class WatchLimitError(OSError):
    """The kernel's inotify watch (or instance) limit was reached."""


class _HintHandler(FileSystemEventHandler):
    def __init__(self, on_path: Callable[[str], None], on_gone: Callable[[str], None]):
        self.on_path = on_path
        self.on_gone = on_gone

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory and event.event_type != "moved":
            return
        if event.event_type in ("opened", "closed_no_write"):
            return  # reading a file changes nothing
        if event.event_type == "deleted":
            self.on_gone(_text(event.src_path))
        elif event.event_type == "moved":
            self.on_gone(_text(event.src_path))
            self.on_path(_text(event.dest_path))
        else:
            self.on_path(_text(event.src_path))


def _text(path: bytes | str) -> str:
    return path.decode() if isinstance(path, bytes) else path


def start_observer(
    root: Path,
    *,
    recursive: bool,
    poll: bool,
    poll_interval_seconds: float,
    on_path: Callable[[str], None],
    on_gone: Callable[[str], None],
) -> BaseObserver:
    """Start watching ``root``; return the running observer.

    Raises WatchLimitError when inotify's limits are reached, OSError when the
    folder cannot be watched.
    """
    observer: BaseObserver = PollingObserver(timeout=poll_interval_seconds) if poll else Observer()
    observer.daemon = True
    observer.name = f"observer:{root}"
    try:
        observer.schedule(_HintHandler(on_path, on_gone), str(root), recursive=recursive)
        observer.start()
    except OSError as exc:
        observer.stop()
        if exc.errno in (errno.ENOSPC, errno.EMFILE):
            raise WatchLimitError(exc.errno, f"inotify limit reached watching {root}") from exc
        raise
    return observer


def stop_observer(observer: BaseObserver | None, timeout: float = 2.0) -> None:
    """Stop an observer and wait briefly for its threads."""
    if observer is None:
        return
    observer.stop()
    observer.join(timeout)
