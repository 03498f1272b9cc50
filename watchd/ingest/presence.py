"""Is an asset really in Flow Capture? Checked before a source is moved or deleted.

/complete/upload only queues the batch for processing; the asset shows up in
/get/assets when processing ends. A source is not moved or deleted before its
asset shows up, and an upload whose complete answer was lost is confirmed
here too. /get/assets lists a whole folder, so each folder's listing is
fetched at most once per ``REFRESH_SECONDS`` and shared by all workers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from watchd.base.stop import StopToken
from watchd.flowcapture.client import FlowCaptureClient
from watchd.flowcapture.models import Asset

REFRESH_SECONDS = 2.0  # the oldest listing trusted when an asset is not in it


class AssetPresence:
    """Answers "which asset has this uuid in that folder, if any?" from cached listings."""

    def __init__(self, client: FlowCaptureClient, clock: Callable[[], float]):
        self.client = client
        self.clock = clock
        self._lock = threading.Lock()
        self._listings: dict[int, tuple[float, dict[str, Asset]]] = {}

    def find(self, project_id: int, uuid: str, stop: StopToken | None = None) -> Asset | None:
        """Return the listed asset with ``uuid`` (None until it is listed); raises client errors."""
        key = uuid.lower()
        with self._lock:
            cached = self._listings.get(project_id)
        if cached is not None and (key in cached[1] or self.clock() - cached[0] < REFRESH_SECONDS):
            return cached[1].get(key)
        listing = self.client.get_assets(project_id, stop=stop)
        assets = {a.uuid.lower(): a for a in listing if a.uuid}
        with self._lock:
            self._listings[project_id] = (self.clock(), assets)
        return assets.get(key)

    def any_listed(self, project_id: int, uuids: list[str], stop: StopToken | None = None) -> bool:
        """Return True if at least one of ``uuids`` is listed in the folder now (fresh listing)."""
        with self._lock:
            self._listings.pop(project_id, None)
        return any(self.find(project_id, uuid, stop) is not None for uuid in uuids)
