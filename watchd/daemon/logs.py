"""Log set-up: stderr (for journald) and a logrotate-friendly file, text or JSON lines.

Every handler carries the redacting filter, so no API key, token or presigned
URL signature reaches a log, whatever module wrote the line, and the escaping
filter, so a file name cannot forge a line (a newline in a name) or garble a
terminal: arguments are escaped, and a ``key=%s`` value is quoted when it holds
spaces or quotes, so every line keeps its ``key=value`` form.
"""

from __future__ import annotations

import functools
import json
import logging
import logging.handlers
import re
import sys
from datetime import UTC, datetime
from pathlib import Path, PurePath
from typing import Any

from watchd.base.names import printable, shown
from watchd.flowcapture.redact import RedactingFilter, install_log_filter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
NOISY_LOGGERS = ("urllib3", "apscheduler", "watchdog", "alembic")  # quiet unless debugging


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time of each line (tests swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


# A %-style conversion, as logging's default formatting understands them.
_CONVERSION = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[a-zA-Z%]")


class EscapingFilter(logging.Filter):
    """Escapes every text argument of a record; quotes ``key=%s`` values that need it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "watchd_escaped", False) or not record.args:
            return True
        record.watchd_escaped = True
        if isinstance(record.args, tuple) and isinstance(record.msg, str):
            kinds = _string_conversions(record.msg)
            record.args = tuple(
                _escaped(arg, kinds.get(index)) for index, arg in enumerate(record.args)
            )
        return True


@functools.lru_cache(maxsize=1024)  # one entry per message format in the code
def _string_conversions(message: str) -> dict[int, bool]:
    """Return, for each ``%s`` argument, whether it is a ``key=%s`` field."""
    found, index = {}, 0
    for match in _CONVERSION.finditer(message):
        if match.group() == "%%":
            continue
        if match.group().endswith("s"):
            found[index] = match.start() > 0 and message[match.start() - 1] == "="
        index += 1
    return found


def _escaped(arg: Any, field: bool | None) -> Any:
    """Escape a text argument of a ``%s`` (quoting it in a field); leave others alone."""
    if field is None or not isinstance(arg, str | PurePath):
        return arg
    return shown(arg) if field else printable(arg)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(
    level: str = "info", file: Path | None = None, fmt: str = "text", stderr: bool = True
) -> None:
    """Replace the root logger's handlers with stderr and (optionally) a watched file."""
    install_log_filter()
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    formatter: logging.Formatter = (
        JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT)
    )
    handlers: list[logging.Handler] = []
    if stderr:
        handlers.append(StderrHandler())
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        # WatchedFileHandler reopens the file after logrotate moves it away.
        handlers.append(logging.handlers.WatchedFileHandler(file, encoding="utf-8"))
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(EscapingFilter())
        handler.addFilter(RedactingFilter())
        root.addHandler(handler)
    numeric = getattr(logging, level.upper(), logging.INFO)
    root.setLevel(numeric)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(numeric if numeric <= logging.DEBUG else logging.WARNING)
