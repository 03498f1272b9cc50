"""Config problems: what is wrong, in which file, at which key and line.

Every check returns a list of :class:`Problem`; loading collects all of them
and raises one :class:`ConfigError`, so a user fixes everything in one pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

KeyPath = tuple[str | int, ...]  # ("folders", 2, "settle")


def format_key(path: Sequence[str | int]) -> str:
    """Return a key path as written in messages: ``folders[2].settle``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the config: file, dotted key path, message, YAML line if known."""

    file: Path
    key: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigError(Exception):
    """The config cannot be used; ``problems`` lists every reason, one per line in str()."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class Origin:
    """Where a piece of config came from: its file, key prefix and the YAML lines of its keys.

    ``lines`` maps key paths (relative to the file's root) to 1-based line numbers.
    """

    file: Path
    prefix: KeyPath = ()
    lines: Mapping[KeyPath, int] = field(default_factory=dict, repr=False, compare=False)

    def line_of(self, path: KeyPath) -> int | None:
        """Return the line of the deepest key along ``path`` (relative to this origin)."""
        full = self.prefix + tuple(path)
        for end in range(len(full), 0, -1):
            line = self.lines.get(full[:end])
            if line is not None:
                return line
        return None

    def problem(self, path: KeyPath, message: str) -> Problem:
        """Return a problem at ``path`` (relative to this origin's prefix)."""
        key = format_key(self.prefix + tuple(path))
        return Problem(self.file, key, message, self.line_of(path))

    def child(self, path: KeyPath) -> Origin:
        """Return the origin of the part of this file at ``path``."""
        return Origin(self.file, self.prefix + tuple(path), self.lines)


UNKNOWN_ORIGIN = Origin(Path("<config>"))  # for config built in code rather than read from files
