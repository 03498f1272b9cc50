"""Is an asset really in Flow Capture? Checked before a source is moved or deleted.

/complete/upload only queues the batch for processing; the asset shows up in
/get/assets when processing ends. A source is not moved or deleted before its
asset shows up, and an upload whose complete answer was lost is confirmed
here too. /get/assets lists a whole folder, so each folder's listing is
fetched at most once per ``REFRESH_SECONDS`` and shared by all workers.

An asset is recognised by the id complete returned when there is one; else
by the uuid we sent with init and complete, if the service kept it (the
field is our guess, see docs/api-notes.md); else by its name in its batch,
skipping assets already recorded for other files.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from watchd.base.stop import StopToken
from watchd.flowcapture.client import FlowCaptureClient
from watchd.flowcapture.models import Asset

REFRESH_SECONDS = 2.0  # the oldest listing trusted when an asset is not in it


@dataclass(frozen=True)
class Sought:
    """What is known of one uploaded file's asset."""

    asset_id: int | None  # from complete's answer (None when that answer was lost)
    uuid: str
    name: str
    batch: str | None


@dataclass
class _Listing:
    """One folder's listing, indexed the three ways an asset is looked for."""

    fetched: float
    by_id: dict[int, Asset] = field(default_factory=dict)
    by_uuid: dict[str, Asset] = field(default_factory=dict)
    by_name: dict[tuple[str, str | None], list[Asset]] = field(default_factory=dict)

    @classmethod
    def of(cls, assets: list[Asset], fetched: float) -> _Listing:
        listing = cls(fetched)
        for asset in sorted(assets, key=lambda a: a.id):
            listing.by_id[asset.id] = asset
            if asset.uuid:
                listing.by_uuid[asset.uuid.lower()] = asset
            listing.by_name.setdefault((asset.name, asset.batch_name), []).append(asset)
        return listing

    def match(self, sought: Sought, taken: Collection[int]) -> Asset | None:
        if sought.asset_id is not None:
            return self.by_id.get(sought.asset_id)
        by_uuid = self.by_uuid.get(sought.uuid.lower())
        if by_uuid is not None:
            return by_uuid
        for asset in self.by_name.get((sought.name, sought.batch), []):
            if asset.id not in taken:
                return asset
        return None


class AssetPresence:
    """Answers "which asset is this file's in that folder, if any?" from cached listings."""

    def __init__(self, client: FlowCaptureClient, clock: Callable[[], float]):
        self.client = client
        self.clock = clock
        self._lock = threading.Lock()
        self._listings: dict[int, _Listing] = {}

    def find(
        self,
        project_id: int,
        sought: Sought,
        taken: Collection[int] = (),
        stop: StopToken | None = None,
    ) -> Asset | None:
        """Return the listed asset of ``sought`` (None until it is listed); raises client errors.

        ``taken``: ids of assets recorded for other files (never matched by name).
        """
        with self._lock:
            cached = self._listings.get(project_id)
        if cached is not None:
            found = cached.match(sought, taken)
            if found is not None or self.clock() - cached.fetched < REFRESH_SECONDS:
                return found
        listing = _Listing.of(self.client.get_assets(project_id, stop=stop), self.clock())
        with self._lock:
            self._listings[project_id] = listing
        return listing.match(sought, taken)

    def any_listed(
        self, project_id: int, sought: list[Sought], stop: StopToken | None = None
    ) -> bool:
        """Return True if at least one of ``sought`` is listed in the folder now (fresh listing)."""
        with self._lock:
            self._listings.pop(project_id, None)
        return any(self.find(project_id, one, (), stop) is not None for one in sought)
