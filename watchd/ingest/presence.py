"""Is an asset really in Flow Capture? Checked before a source is moved or deleted.

/complete/upload only queues the batch for processing; the asset shows up in
/get/assets when processing ends. A source is not moved or deleted before its
asset shows up. /get/assets lists a whole folder, so each folder's listing is
fetched at most once per ``REFRESH_SECONDS`` and shared by all workers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from watchd.flowcapture.client import FlowCaptureClient

REFRESH_SECONDS = 2.0  # the oldest listing trusted when an asset is not in it


class AssetPresence:
    """Answers "is the asset with this uuid visible in that folder?" from cached listings."""

    def __init__(self, client: FlowCaptureClient, clock: Callable[[], float] = time.monotonic):
        self.client = client
        self.clock = clock
        self._lock = threading.Lock()
        self._listings: dict[int, tuple[float, frozenset[str]]] = {}

    def visible(self, project_id: int, uuid: str) -> bool:
        """Return True once the asset is listed; raises the client's errors."""
        with self._lock:
            cached = self._listings.get(project_id)
        if cached is not None and (uuid in cached[1] or self.clock() - cached[0] < REFRESH_SECONDS):
            return uuid in cached[1]
        uuids = frozenset(a.uuid for a in self.client.get_assets(project_id) if a.uuid)
        with self._lock:
            self._listings[project_id] = (self.clock(), uuids)
        return uuid in uuids
