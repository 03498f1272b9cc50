from __future__ import annotations

import json
import uuid

import pytest

from tests.integration.conftest import folder_id, wait_for
from watchd.cli.main import main
from watchd.flowcapture.upload import upload_file


@pytest.fixture
def cli(emulator, monkeypatch, capsys):
    """Run `watchd ...` in-process as the demo user; return (exit code, stdout, stderr)."""
    monkeypatch.setenv("WATCHD_API_KEY", "demo-api-key")

    def run(*args: str, email: str = "demo@example.com"):
        code = main([*args, "--email", email, "--url", emulator.api_url])
        out, err = capsys.readouterr()
        return code, out, err

    run.json = lambda *args: json.loads(run(*args, "--json")[1])  # type: ignore[attr-defined]
    return run


@pytest.fixture
def uploaded(client, tmp_path):
    """An ingested asset in Dailies, batch 'B1'; returns (asset id, uuid, bytes)."""
    dailies = folder_id(client, "Dailies")
    source = tmp_path / "A001_012_003.mov"
    data = bytes(range(256)) * 4096
    source.write_bytes(data)
    ident = str(uuid.uuid4())
    result = upload_file(client, source, project_id=dailies, uuid=ident, batch_name="B1")
    client.complete_upload(dailies, [result.upload.key], batch_name="B1")
    wait_for(lambda: [a for a in client.get_assets(dailies) if a.uuid == ident])
    return result.asset_id, ident, data
