"""Soak: several nodes on one PostgreSQL queue, killed and restarted at random.

    .venv/bin/pytest -m slow tests/soak/test_nodes_soak.py -s   # NODES_SOAK_SECONDS=600 for longer

Three nodes serve one shared drop folder through a flaky emulator; files keep
arriving (small ones and a few multipart ones) while a random node is
SIGKILLed every few seconds and started again. At the end every file must
be in Flow Capture exactly once, byte-identical, and no job may be held by
a dead node.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter

import pytest

from tests.e2e.harness import MIB, multipart_etag, wait_until, write_file
from tests.e2e.nodes import NodeSite

pytestmark = pytest.mark.slow

SECONDS = float(os.environ.get("NODES_SOAK_SECONDS", "90"))
NODES = 3


def test_nodes_killed_at_random_land_every_file_once(tmp_path, emulator, pg_url):
    rng = random.Random(int(os.environ.get("SOAK_SEED", "12")))
    emulator.set_faults(
        {"seed": 7, "rules": [{"endpoint": "/upload/asset/part", "status": 503, "rate": 0.05}]}
    )
    shared = tmp_path / "nas" / "dailies"
    nodes = [
        NodeSite(tmp_path / f"bay-{n}", emulator, pg_url, f"bay-{n}", "3s") for n in range(NODES)
    ]
    for node in nodes:
        node.share_folder(shared)
        node.start()
    data: dict[str, bytes] = {}
    kills = 0
    try:
        deadline = time.monotonic() + SECONDS
        roll = 0
        while time.monotonic() < deadline:
            roll += 1
            for n in range(rng.randint(3, 10)):
                name = f"Roll{roll:03d}/C{n:03d}.mov"
                size = 12 * MIB + 7 if rng.random() < 0.1 else rng.randint(1, 512) * 1024
                data[name] = write_file(shared / name, size)
            victim = rng.choice(nodes)
            victim.kill()
            kills += 1
            time.sleep(rng.uniform(0.5, 3))
            victim.start()
            time.sleep(rng.uniform(1, 4))
        wait_until(lambda: nodes[0].all_done(len(data)), 300, f"all {len(data)} files done")
        wait_until(lambda: len(nodes[0].visible_assets()) >= len(data), 60, "all listed")
        assets = nodes[0].visible_assets()
        by_name = Counter((a["batch_name"], a["name"]) for a in assets)
        assert all(count == 1 for count in by_name.values()), by_name.most_common(3)
        etags = {(a["batch_name"], a["name"]): a["etag"] for a in assets}
        for name, content in data.items():
            roll_name, file_name = name.split("/")
            assert etags[(roll_name, file_name)] == multipart_etag(content), name
        for node in nodes:
            assert node.stop() == 0
        held = nodes[0].query("SELECT count(*) AS n FROM jobs WHERE lease_node IS NOT NULL")
        assert held[0]["n"] == 0
        print(f"nodes soak: {len(data)} files, {kills} kills, {NODES} nodes, all exactly once")
    finally:
        for node in nodes:
            node.close()
