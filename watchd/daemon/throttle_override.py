"""The cap set by `watchd throttle`: a small JSON file in the state folder.

`watchd throttle 5MB/s --for 2h` writes it, `watchd throttle --clear` removes
it, and the running daemon looks at it at least every quarter second (see
:class:`watchd.daemon.bandwidth_control.BandwidthControl`). A file is used,
like the database `watchd cancel` writes to, so the command needs no
connection to the daemon and the cap holds across a restart until it ends
or is cleared.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)

OVERRIDE_FILE = "throttle.json"


@dataclass(frozen=True)
class Override:
    """A cap from `watchd throttle`: bytes per second (None: no cap, 0: pause)."""

    rate: int | None
    text: str  # as the operator wrote it: 5MB/s, unlimited, pause
    set_at: float  # Unix time
    until: float | None = None  # Unix time it ends; None: until cleared

    def active(self, now: float) -> bool:
        """True until ``until`` (if any)."""
        return self.until is None or now < self.until


def override_path(state_dir: Path) -> Path:
    """Return the file `watchd throttle` writes in ``state_dir``."""
    return state_dir / OVERRIDE_FILE


def write_override(state_dir: Path, override: Override) -> None:
    """Replace the override atomically; raises OSError if the state folder is not writable."""
    fd, temp = tempfile.mkstemp(prefix=".throttle-", dir=state_dir)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(asdict(override), handle)
        os.chmod(temp, 0o644)  # the daemon's user reads what root wrote
        os.replace(temp, override_path(state_dir))
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def clear_override(state_dir: Path) -> bool:
    """Remove the override; return whether there was one. Raises OSError if it cannot."""
    try:
        override_path(state_dir).unlink()
    except FileNotFoundError:
        return False
    return True


def read_override(state_dir: Path) -> Override | None:
    """Return the override written last, or None (none, or unreadable: logged)."""
    path = override_path(state_dir)
    try:
        data = json.loads(path.read_text())
        rate = data["rate"]
        until = data.get("until")
        return Override(
            rate=None if rate is None else int(rate),
            text=str(data["text"]),
            set_at=float(data["set_at"]),
            until=None if until is None else float(until),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        log.warning("ignoring %s (%s); `watchd throttle --clear` removes it", path, exc)
        return None
