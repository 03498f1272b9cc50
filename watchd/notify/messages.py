"""Events to and from JSON, and many events gathered into one message.

A message has a Slack-compatible ``text`` (Slack, Teams and Discord's /slack
endpoint show it as is) and structured fields: ``event`` (the kind, or
``digest`` for several kinds), ``folder``, ``batch``, ``files``, ``bytes``,
``errors`` and the list of ``events``. Lists are bounded, so a burst of
failures still makes one message of reasonable size.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from watchd.base.events import Event, EventKind
from watchd.base.names import printable

MAX_TEXT_LINES = 20  # lines of text before "... and N more"
MAX_LISTED_EVENTS = 200  # structured events in one message
MAX_LISTED_ERRORS = 50
MAX_LISTED_ASSETS = 50  # asset ids shown per batch in text


def to_json(event: Event) -> str:
    """Return ``event`` as the JSON stored in the outbox."""
    return json.dumps(asdict(event), sort_keys=True)


def from_json(text: str) -> Event:
    """Return the event stored as ``text``; raises ValueError if it is not one."""
    data = json.loads(text)
    data["kind"] = EventKind(data["kind"])
    data["asset_ids"] = tuple(data.get("asset_ids") or ())
    data["errors"] = tuple(data.get("errors") or ())
    return Event(**data)


@dataclass(frozen=True)
class Message:
    """One message for one target: a subject (email), text and the JSON body (webhook)."""

    subject: str
    text: str
    body: dict[str, Any]


def human_size(size: int) -> str:
    """Return a byte count for people (``1.5 GB``)."""
    amount = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if amount < 1000 or unit == "TB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1000
    return f"{size} B"  # not reached


def line(event: Event) -> str:
    """Return one line of text for ``event``."""
    if event.kind == EventKind.BATCH_DONE:
        took = f" in {event.duration_seconds:.0f}s" if event.duration_seconds is not None else ""
        assets = ", ".join(str(a) for a in event.asset_ids[:MAX_LISTED_ASSETS])
        more = "" if len(event.asset_ids) <= MAX_LISTED_ASSETS else ", ..."
        listed = f" (assets {assets}{more})" if assets else ""
        return (
            f"Batch {event.batch!r} of {event.folder} done: {event.files} file(s), "
            f"{human_size(event.bytes)}{took}{listed}"
        )
    return event.text


def compose(events: list[Event], node: str) -> Message:
    """Return one message telling ``events`` (at least one), sent from ``node``."""
    kinds = {e.kind for e in events}
    kind = next(iter(kinds)).value if len(kinds) == 1 else "digest"
    folders = {e.folder for e in events if e.folder}
    batches = {e.batch for e in events if e.batch}
    errors = [printable(err) for e in events for err in e.errors]
    done = [e for e in events if e.kind == EventKind.BATCH_DONE]
    lines = [printable(line(e)) for e in events]  # a name's newline forges no line, no header
    if len(lines) > MAX_TEXT_LINES:
        lines = [*lines[: MAX_TEXT_LINES - 1], f"... and {len(lines) - MAX_TEXT_LINES + 1} more"]
    head = f"watchd on {node}"
    if len(events) == 1:
        subject = f"{head}: {lines[0]}"
    else:
        subject = f"{head}: {len(events)} events ({', '.join(sorted(k.value for k in kinds))})"
    text = "\n".join([f"*{head}*", *lines])
    body: dict[str, Any] = {
        "text": slack_escaped(text),
        "event": kind,
        "node": node,
        "folder": next(iter(folders)) if len(folders) == 1 else None,
        "batch": next(iter(batches)) if len(batches) == 1 else None,
        "files": sum(e.files for e in done)
        + sum(e.files for e in events if e.kind == EventKind.FILE_FAILED),
        "bytes": sum(e.bytes for e in done),
        "errors": errors[:MAX_LISTED_ERRORS],
        "events": [asdict(e) for e in events[:MAX_LISTED_EVENTS]],
        "events_total": len(events),
    }
    return Message(subject[:200], text, body)


def slack_escaped(text: str) -> str:
    """Return ``text`` with the three characters Slack reads as markup escaped, so a file
    name cannot ping a channel (``<!channel>``) or disguise a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
