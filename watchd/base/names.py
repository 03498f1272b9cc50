"""File names as the system gives them, as people read them, as Flow Capture gets them.

On Linux a file name is bytes. Python hands names that are not valid UTF-8 to
us as text with surrogate escapes (PEP 383), which open() understands but a
log file, a terminal or a JSON body cannot carry. Three views of one name:

- the name itself (kept losslessly, so the file can be opened, moved, deleted);
- :func:`printable`: for logs and listings, control characters and undecodable
  bytes escaped (``bad\\xff.mov``, ``a\\nb.mov``), so one file cannot forge a log
  line or garble a terminal; :func:`shown` quotes it when it holds spaces,
  quotes or escapes, so ``key=value`` lines stay parseable;
- :func:`display_name`: for Flow Capture, undecodable bytes replaced by U+FFFD
  and control characters dropped.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import PurePath

_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def _is_control(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") and char != " "


def printable(text: str | PurePath) -> str:
    """Return ``text`` with control characters and undecodable bytes escaped."""
    value = str(text)
    if value.isprintable() and "\\" not in value:
        return value  # the common case: nothing to do
    out = []
    for char in value:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif 0xDC80 <= ord(char) <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
            out.append(f"\\x{ord(char) - 0xDC00:02x}")
        elif 0xD800 <= ord(char) <= 0xDFFF or _is_control(char):
            out.append(f"\\u{ord(char):04x}" if ord(char) <= 0xFFFF else f"\\U{ord(char):08x}")
        else:
            out.append(char)
    return "".join(out)


def shown(text: str | PurePath) -> str:
    """Return ``text`` for a ``key=value`` log field: escaped, quoted if it needs it."""
    value = printable(text)
    if value and not any(c in value for c in " \"'\\="):
        return value
    return '"' + value.replace('"', '\\"') + '"'


def display_name(name: str) -> str:
    """Return the name to show in Flow Capture for a file called ``name``."""
    return plain_text(name).strip() or "unnamed"


def plain_text(text: str) -> str:
    """Return ``text`` (from a path) fit to send or write out: bytes that were not UTF-8
    become U+FFFD, control characters are dropped."""
    if text.isprintable():  # the common case: nothing to replace or drop
        return text
    decoded = os.fsencode(text).decode("utf-8", "replace")
    return "".join(c for c in decoded if not _is_control(c))


def is_plain(name: str) -> bool:
    """Return True if ``name`` is valid UTF-8 without control characters."""
    if name.isprintable():
        return True
    return not any(0xD800 <= ord(c) <= 0xDFFF or _is_control(c) for c in name)
