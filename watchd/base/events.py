"""What the daemon tells people about: events handed to one sink.

The layers that see something happen (a batch closed, a file failed for good, a
health problem) call an :data:`EventSink` they were given; they never know who
listens. The daemon's sink queues the event for notifications
(:mod:`watchd.notify`); everything else passes :func:`ignore_events`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field


class EventKind(enum.StrEnum):
    """The kinds of events a notification target may ask for."""

    BATCH_DONE = "batch_done"  # a batch was closed: its files are in Flow Capture
    FILE_FAILED = "file_failed"  # a file failed for good (an operator may retry it)
    PROBLEM = "problem"  # a health problem started
    PROBLEM_OVER = "problem_over"  # a health problem ended
    STARTED = "started"  # the daemon started
    STOPPED = "stopped"  # the daemon stopped
    TEST = "test"  # `watchd notify --test`


@dataclass(frozen=True)
class Event:
    """One thing that happened, with the facts a message shows (unset ones stay empty)."""

    kind: EventKind
    text: str  # one line for people, without the node or the time
    folder: str | None = None
    batch: str | None = None
    batch_id: int | None = None
    files: int = 0
    bytes: int = 0
    duration_seconds: float | None = None
    asset_ids: tuple[int, ...] = ()
    errors: tuple[str, ...] = field(default=())


EventSink = Callable[[Event], None]


def ignore_events(_event: Event) -> None:
    """The sink of code run without notifications (tests, `watchd upload`)."""
