"""Keep secrets out of logs and messages.

The API key, tokens and presigned URL signatures must never reach a log line,
an exception text or command output. Everything the client prints or raises
goes through :func:`redact`, and :func:`install_log_filter` cleans the debug
lines urllib3 writes about each request.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import urlsplit, urlunsplit

REDACTED = "REDACTED"

# A query string on a URL: presigned URLs carry their signature there.
_QUERY_RE = re.compile(r"(?P<path>(?:https?://[^\s?'\"]+|/[^\s?'\"]*))\?(?P<query>[^\s'\"]+)")
# Tokens seen in the wild are 64 upper-case hex characters.
_TOKEN_RE = re.compile(r"\b[0-9A-F]{64}\b")

_known_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a secret (an API key, a token) so that :func:`redact` removes it anywhere."""
    if value and len(value) >= 4:
        with _lock:
            _known_secrets.add(value)


def redact_url(url: str) -> str:
    """Return ``url`` without its query string (signatures live there)."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    return urlunsplit((parts.scheme, parts.netloc, parts.path, REDACTED, ""))


def redact(text: str) -> str:
    """Return ``text`` with query strings, tokens and registered secrets replaced."""
    text = _QUERY_RE.sub(lambda m: f"{m.group('path')}?{REDACTED}", text)
    text = _TOKEN_RE.sub(REDACTED, text)
    with _lock:
        secrets = sorted(_known_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites each record's message without secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


# Logger filters do not apply to child loggers, so each logger that writes URLs is named.
_FILTERED_LOGGERS = ("urllib3", "urllib3.connectionpool", "urllib3.util.retry", "requests")
_installed = False


def install_log_filter() -> None:
    """Attach :class:`RedactingFilter` to the loggers that may see request URLs (once)."""
    global _installed  # noqa: PLW0603 - a process-wide, idempotent switch
    with _lock:
        if _installed:
            return
        _installed = True
    for name in _FILTERED_LOGGERS:
        logging.getLogger(name).addFilter(RedactingFilter())
