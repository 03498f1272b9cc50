"""Fixtures for tests against the emulator over real HTTP on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from watchd.emulator import Emulator
from watchd.flowcapture.client import FlowCaptureClient
from watchd.store.database import Database, sqlite_url
from watchd.store.migrate import upgrade

DEMO_EMAIL = "demo@example.com"
DEMO_API_KEY = "demo-api-key"
VIEWER_EMAIL = "viewer@example.com"
VIEWER_API_KEY = "viewer-api-key"
FAST_FAULTS = {"processing_delay_s": 0.2, "download_processing_s": 0.3}


def short_sleep(seconds: float) -> None:
    """Sleep, but never long: retry back-offs are tested for behaviour, not duration."""
    time.sleep(min(seconds, 0.05))


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """A fresh state database (SQLite file) at the current schema."""
    database = Database(sqlite_url(tmp_path))
    upgrade(database.engine)
    yield database
    database.close()


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    emu = Emulator(data_dir=tmp_path / "emulator", faults=dict(FAST_FAULTS))
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


def make_client(emulator: Emulator, email: str = DEMO_EMAIL, key: str = DEMO_API_KEY):
    return FlowCaptureClient(email, key, emulator.api_url, sleep=short_sleep)


@pytest.fixture
def client(emulator: Emulator) -> Iterator[FlowCaptureClient]:
    with make_client(emulator) as fc:
        yield fc


def folder_id(client: FlowCaptureClient, name: str) -> int:
    return next(f.id for f in client.get_projects() if f.name == name)


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05):
    """Return predicate()'s first truthy value, polling until ``timeout``; fail otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")
