"""Helper for client tests that need an ingested asset in the demo world's Dailies."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from tests.integration.conftest import folder_id, wait_for
from watchd.flowcapture.client import FlowCaptureClient
from watchd.flowcapture.upload import upload_file


@dataclass(frozen=True)
class Ingested:
    """An asset uploaded, closed into its batch and listed."""

    asset_id: int
    uuid: str
    folder: int
    data: bytes
    name: str


def ingest_one(
    client: FlowCaptureClient,
    tmp_path: Path,
    name: str = "A001_C003.mov",
    data: bytes = b"flow capture " * 1000,
    batch: str = "B",
) -> Ingested:
    """Upload ``data`` as ``name`` into Dailies, close its batch and wait until it is listed."""
    dailies = folder_id(client, "Dailies")
    source = tmp_path / name
    source.write_bytes(data)
    ident = str(uuid.uuid4())
    result = upload_file(client, source, project_id=dailies, uuid=ident, batch_name=batch)
    client.complete_upload(dailies, [result.upload.key], batch_name=batch)
    wait_for(lambda: [a for a in client.get_assets(dailies) if a.uuid == ident])
    return Ingested(result.asset_id, ident, dailies, data, name)
