"""`watchd upload --wait`: wait until Flow Capture lists the uploaded assets.

/complete/upload only hands the batch to Flow Capture's processing; an asset is
listed in its folder (and can be viewed, tagged, downloaded) when processing
ends, which takes from seconds to many minutes for big camera files. The wait
lists the folder now and then, first often (small files are quick), then every
``LISTING_MAX_INTERVAL_SECONDS`` (each listing is the whole folder).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection

from watchd.base.stop import Stopped, StopToken
from watchd.cli.progress import ProgressLine
from watchd.flowcapture.client import FlowCaptureClient

LISTING_FIRST_INTERVAL_SECONDS = 0.5  # the first look again; doubled after each listing
LISTING_MAX_INTERVAL_SECONDS = 10.0  # the longest pause between two listings of the folder
DEFAULT_WAIT_TIMEOUT = "30m"  # how long --wait waits for processing unless told otherwise


def wait_until_listed(
    client: FlowCaptureClient,
    project_id: int,
    asset_ids: Collection[int],
    timeout_seconds: float,
    stop: StopToken,
    clock: Callable[[], float],
    progress: Callable[[int, int], None] = lambda listed, total: None,
) -> set[int]:
    """Wait until every asset of ``asset_ids`` is listed in the folder ``project_id``.

    ``clock`` is monotonic seconds; ``progress(listed, total)`` is told after
    each listing. Returns the ids still not listed when the wait ended (empty
    when all are listed; all not yet seen when stopped or out of time).
    Raises the client's errors.
    """
    missing = set(asset_ids)
    deadline = clock() + timeout_seconds
    interval = LISTING_FIRST_INTERVAL_SECONDS
    while missing and not stop.stopped:
        try:
            listed = {asset.id for asset in client.get_assets(project_id, stop=stop)}
        except Stopped:
            break
        missing -= listed
        progress(len(asset_ids) - len(missing), len(asset_ids))
        left = deadline - clock()
        if not missing or left <= 0:
            break
        stop.wait(min(interval, left))
        interval = min(interval * 2, LISTING_MAX_INTERVAL_SECONDS)
    return missing


def wait_for_listing(
    client: FlowCaptureClient,
    project_id: int,
    rows: list[dict[str, object]],
    seconds: float,
    stop: StopToken,
) -> set[int]:
    """Wait until the uploaded files' assets are listed; return those that are not."""
    assets = {row["asset_id"] for row in rows if row["state"] == "done"}
    ids = {asset for asset in assets if isinstance(asset, int)}
    line = ProgressLine(f"{len(ids)} asset(s)")
    missing = wait_until_listed(
        client,
        project_id,
        ids,
        seconds,
        stop,
        time.monotonic,
        lambda listed, total: line.note(f"processing in Flow Capture: {listed}/{total} listed"),
    )
    line.finish("listed" if not missing else "not all listed")
    return missing
