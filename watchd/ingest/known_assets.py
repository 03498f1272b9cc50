"""Files Flow Capture already has, for a start with an empty state database.

When the database is new (first start, or it was lost or replaced), files
that were in the drop folders before this run began may have been uploaded
by an earlier one. Such a file is not uploaded again when its folder's
listing has an asset with the same name and size; it is recorded as done,
with a log line saying so. ``watchd run --reupload`` turns this off. Files
that arrive during the run are never matched this way.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from watchd.base.names import display_name
from watchd.base.stop import StopToken
from watchd.flowcapture.client import FlowCaptureClient
from watchd.flowcapture.models import Asset

log = logging.getLogger(__name__)

LISTING_FRESH_SECONDS = 600.0  # a folder's listing is fetched again after this


class KnownAssets:
    """Looks up, per Flow Capture folder, an asset with a file's name and size."""

    def __init__(
        self, client: FlowCaptureClient, clock: Callable[[], float], stop: StopToken | None = None
    ):
        self.client = client
        self.clock = clock
        self.stop = stop
        self._lock = threading.Lock()
        self._listings: dict[int, tuple[float, dict[tuple[str, int], Asset]]] = {}

    def find(self, project_id: int, filename: str, size: int) -> Asset | None:
        """Return the asset named like ``filename`` with ``size`` bytes, if the folder has one.

        Assets listed without a size never match. Raises the client's errors.
        """
        with self._lock:
            cached = self._listings.get(project_id)
        if cached is None or self.clock() - cached[0] > LISTING_FRESH_SECONDS:
            listing = self.client.get_assets(project_id, stop=self.stop)
            by_key = {(a.name, a.size): a for a in listing if a.size is not None}
            cached = (self.clock(), by_key)
            with self._lock:
                self._listings[project_id] = cached
        return cached[1].get((display_name(filename), size))
