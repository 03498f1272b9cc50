"""Fixtures for the emulator's integration tests: an in-process emulator on
free loopback ports and a thin raw-HTTP helper (deliberately not the
watchd.flowcapture client, so the two implementations check each other)."""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from watchd.emulator import Emulator

MiB = 1024 * 1024
FAST_FAULTS = {"processing_delay_s": 0.3, "download_processing_s": 0.4}
DAILIES = 1000  # demo world: Demo Production/Dailies
DAY_01 = 1001
RUSHES = 1002  # Closed Set/Rushes, invisible to the demo user
S3_AUTH = {"Authorization": "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/s3/aws4_request"}


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def multipart_etag(parts: list[bytes]) -> str:
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    return f'"{hashlib.md5(digests).hexdigest()}-{len(parts)}"'


class Api:
    """Raw HTTP calls against the emulator's API and S3 ports.

    Test modules cannot import conftest, so constants and digest helpers are
    reachable through the fixture too.
    """

    MiB = MiB
    DAILIES = DAILIES
    DAY_01 = DAY_01
    RUSHES = RUSHES
    S3_AUTH = S3_AUTH
    md5_b64 = staticmethod(md5_b64)
    multipart_etag = staticmethod(multipart_etag)

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.base = emu.api_url
        self.session = requests.Session()

    def post(self, path: str, token: str | None = None, **data: Any) -> requests.Response:
        headers = {"X-Token": token} if token else {}
        return self.session.post(self.base + path, json={"data": data}, headers=headers, timeout=30)

    def call(self, path: str, token: str | None = None, **data: Any) -> Any:
        resp = self.post(path, token, **data)
        assert resp.status_code == 200, (path, resp.status_code, resp.text)
        return resp.json()

    def error(
        self, path: str, status: int, token: str | None = None, **data: Any
    ) -> dict[str, Any]:
        resp = self.post(path, token, **data)
        assert resp.status_code == status, (path, resp.status_code, resp.text)
        error: dict[str, Any] = resp.json()["error"]
        return error

    def token(self, email: str = "demo@example.com", api_key: str = "demo-api-key") -> str:
        token: str = self.call("/authenticate/api", email=email, api_key=api_key)["token"]
        return token

    def init(
        self, token: str, project_id: int = DAILIES, filename: str = "clip.mov", **extra: Any
    ) -> dict[str, Any]:
        result: dict[str, Any] = self.call(
            "/upload/asset/init", token, project_id=project_id, filename=filename, **extra
        )
        return result

    def part_url(self, token: str, init: dict[str, Any], number: int, data: bytes) -> str:
        url: str = self.call(
            "/upload/asset/part",
            token,
            upload_id=init["upload_id"],
            key=init["key"],
            part_number=number,
            content_md5=md5_b64(data),
        )["presigned_url"]
        return url

    def put(self, url: str, data: bytes, md5: str | None = None) -> requests.Response:
        return self.session.put(
            url, data=data, headers={"Content-MD5": md5 or md5_b64(data)}, timeout=60
        )

    def put_part(self, token: str, init: dict[str, Any], number: int, data: bytes) -> str:
        resp = self.put(self.part_url(token, init, number, data), data)
        assert resp.status_code == 200, resp.text
        return resp.headers["ETag"]

    def complete(
        self, token: str, init: dict[str, Any], etags: list[str], **extra: Any
    ) -> requests.Response:
        data = {"filename": "clip.mov", "project_id": DAILIES, **extra}
        return self.post(
            "/upload/asset/complete",
            token,
            upload_id=init["upload_id"],
            key=init["key"],
            etags=etags,
            **data,
        )

    def upload(
        self,
        token: str,
        data: bytes,
        part_size: int = 5 * MiB,
        project_id: int = DAILIES,
        filename: str = "clip.mov",
        batch_name: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Upload ``data`` through init/part/PUT/complete; return init + asset_id + etags."""
        init = self.init(token, project_id, filename, **extra)
        chunks = [data[i : i + part_size] for i in range(0, len(data), part_size)] or [b""]
        etags = [self.put_part(token, init, n, c) for n, c in enumerate(chunks, 1)]
        batch = {"batch_name": batch_name} if batch_name else {}
        resp = self.complete(token, init, etags, filename=filename, project_id=project_id, **batch)
        assert resp.status_code == 200, resp.text
        return {**init, "asset_id": resp.json()["asset_id"], "etags": etags, "parts": chunks}

    def ingest(
        self, token: str, project_id: int, keys: list[str], batch_name: str | None = None
    ) -> None:
        batch = {"batch_name": batch_name} if batch_name else {}
        assert self.call("/complete/upload", token, project_id=project_id, keys=keys, **batch) == {
            "ok": True
        }

    def wait_assets(
        self, token: str, project_id: int, count: int, timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            assets: list[dict[str, Any]] = self.call("/get/assets", token, project_id=project_id)
            if len(assets) >= count or time.monotonic() > deadline:
                return assets
            time.sleep(0.05)

    def uploaded_asset(self, token: str, data: bytes = b"x" * 1000, **kw: Any) -> dict[str, Any]:
        """Upload, ingest and wait until visible; return the asset JSON."""
        done = self.upload(token, data, **kw)
        project_id = kw.get("project_id", DAILIES)
        self.ingest(token, project_id, [done["key"]], kw.get("batch_name"))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            for asset in self.call("/get/assets", token, project_id=project_id):
                if asset["id"] == done["asset_id"]:
                    return dict(asset)
            time.sleep(0.05)
        raise AssertionError("asset never became visible")

    def s3_get(
        self, bucket: str, key: str, headers: dict[str, str] | None = None
    ) -> requests.Response:
        url = f"{self.emu.s3_url}/{bucket}/{key}"
        return self.session.get(url, headers={**S3_AUTH, **(headers or {})}, timeout=30)


@pytest.fixture
def emu(tmp_path) -> Iterator[Emulator]:
    with Emulator(tmp_path / "data", faults=dict(FAST_FAULTS)) as emulator:
        yield emulator


@pytest.fixture
def api(emu: Emulator) -> Iterator[Api]:
    client = Api(emu)
    yield client
    client.session.close()


@pytest.fixture
def api_for() -> Iterator[Callable[[Emulator], Api]]:
    """Return a factory of :class:`Api` helpers for emulators a test starts itself."""
    made: list[Api] = []

    def make(emulator: Emulator) -> Api:
        made.append(Api(emulator))
        return made[-1]

    yield make
    for client in made:
        client.session.close()


@pytest.fixture
def token(api: Api) -> str:
    return api.token()
