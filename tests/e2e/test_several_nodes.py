"""Several nodes on one PostgreSQL queue and one shared drop folder, as real processes.

Leases are 3 s here (30 s by default), so failovers take seconds.
"""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import MIB, multipart_etag, wait_until, watchd, write_file
from tests.e2e.nodes import NodeSite

LEASE = "3s"


@pytest.fixture
def make_node(tmp_path, emulator) -> Iterator[Callable[[str, str], NodeSite]]:
    made: list[NodeSite] = []

    def make(name: str, database: str) -> NodeSite:
        node = NodeSite(tmp_path / name, emulator, database, name, LEASE)
        made.append(node)
        return node

    yield make
    for node in made:
        node.close()


def sharing(
    make_node: Callable[[str, str], NodeSite], database: str, shared: Path, **transfer: Any
) -> tuple[NodeSite, NodeSite]:
    """bay-1 and bay-2 on one database, both serving the folder ``shared``."""
    a, b = make_node("bay-1", database), make_node("bay-2", database)
    for node in (a, b):
        node.share_folder(shared)
        node.transfer.update(transfer)
    return a, b


def start_watcher_then_standby(a: NodeSite, b: NodeSite) -> None:
    """Start ``a`` until it holds the folder's lease, then ``b`` beside it."""
    a.start()
    wait_until(lambda: "folder lease taken: folder=dailies" in a.log(), 30, "bay-1 watching")
    b.start()
    wait_until(lambda: "running" in b.log(), 30, "bay-2 running")


def landed_once(node: NodeSite, names: list[str]) -> None:
    wait_until(lambda: len(node.visible_assets()) >= len(names), 30, "every asset listed")
    assets = node.visible_assets()
    counts = Counter(a["name"] for a in assets)
    assert counts == Counter(names), {n: c for n, c in counts.items() if c != 1}


def start_a_slow_upload(node: NodeSite, shared: Path) -> tuple[bytes, dict[str, Any]]:
    """Start ``node`` on a 30 MiB file sent at 4 MiB/s; return its bytes and job once two
    parts are committed."""
    node.emulator.set_faults({"bandwidth_bytes_per_s": 4 * MIB})
    node.start()
    data = write_file(shared / "Roll1" / "A001.mov", 30 * MIB)
    (job,) = wait_until(node.jobs, 30, "the job queued")
    wait_until(lambda: len(node.committed_parts(job["id"])) >= 2, 60, "two parts committed")
    return data, job


def landed_without_resending(node: NodeSite, data: bytes, kept: list[int]) -> None:
    """The asset holds ``data``, and the parts committed before the kill went once."""
    (asset,) = wait_until(node.visible_assets, 30, "the asset listed")
    assert asset["etag"] == multipart_etag(data)
    (done,) = node.jobs()
    puts = node.snapshot()["part_puts"][done["key"]]
    assert all(puts[str(n)] == 1 for n in kept), (kept, puts)


def test_two_nodes_on_one_shared_folder_land_each_of_200_files_once(tmp_path, pg_url, make_node):
    shared = tmp_path / "nas" / "dailies"
    a, b = sharing(make_node, pg_url, shared, parallel_files=4)
    a.start()
    b.start()  # both upgrade the empty database at once: one waits for the other's lock
    wait_until(lambda: len(a.query("SELECT * FROM folder_leases")) == 1, 30, "a folder lease")
    names = [f"Roll{r}/C{n:03d}.mov" for r in range(4) for n in range(50)]
    for name in names:
        write_file(shared / name, 64 * 1024)
    wait_until(lambda: a.all_done(200), 120, "200 files done")
    landed_once(a, [name.split("/")[1] for name in names])
    jobs = a.jobs()
    assert len({(j["relpath"], j["size"], j["mtime_ns"]) for j in jobs}) == 200
    calls = a.snapshot()["complete_upload_calls"]
    keys = [key for call in calls for key in call["keys"]]
    assert len(keys) == len(set(keys)) == 200, "each batch closed once"
    uploaded_by = {node.name: node.log().count("uploaded: file=") for node in (a, b)}
    assert sum(uploaded_by.values()) == 200, uploaded_by
    assert min(uploaded_by.values()) > 0, f"both nodes took work: {uploaded_by}"
    status = json.loads(watchd("status", "--config", str(a.config_path), "--json").stdout)
    assert {n["name"]: n["state"] for n in status["nodes"]} == {
        "bay-1": "running",
        "bay-2": "running",
    }
    assert [n["folders_watched"] for n in status["nodes"]].count(["dailies"]) == 1
    assert a.stop() == 0 and b.stop() == 0
    status = json.loads(watchd("status", "--config", str(a.config_path), "--json").stdout)
    assert {n["state"] for n in status["nodes"]} == {"stopped"}
    assert a.query("SELECT count(*) AS n FROM jobs WHERE lease_node IS NOT NULL")[0]["n"] == 0


def test_a_killed_node_s_upload_is_finished_by_the_other_without_resending_parts(
    tmp_path, pg_url, make_node
):
    shared = tmp_path / "nas" / "dailies"
    a, b = sharing(make_node, pg_url, shared, parallel_parts=1)  # one part in flight at the kill
    data, job = start_a_slow_upload(a, shared)
    b.start()
    wait_until(lambda: "running" in b.log(), 30, "the second node running")
    a.kill()
    killed_at = time.monotonic()
    kept = a.committed_parts(job["id"])
    a.emulator.set_faults({"bandwidth_bytes_per_s": None})
    wait_until(lambda: b.all_done(1), 60, "the other node finished the upload")
    took_over = time.monotonic() - killed_at
    landed_without_resending(b, data, kept)
    print(f"failover: the upload was done {took_over:.1f}s after the kill (lease {LEASE})")


def test_a_node_killed_and_started_again_at_once_goes_on_with_its_own_work(
    tmp_path, pg_url, make_node
):
    # systemd restarts a crashed node within seconds, long before its lease runs out: the
    # node row it finds is its own (recorded in its state folder), not another live node's.
    shared = tmp_path / "nas" / "dailies"
    a = make_node("bay-1", pg_url)
    a.share_folder(shared)
    a.transfer["parallel_parts"] = 1
    data, job = start_a_slow_upload(a, shared)
    a.kill()
    kept = a.committed_parts(job["id"])
    a.emulator.set_faults({"bandwidth_bytes_per_s": None})
    a.start()
    wait_until(lambda: "taking its work over now" in a.log(), 30, "the restart took over")
    wait_until(lambda: a.all_done(1), 60, "the upload finished")
    assert "another node named" not in a.log()
    landed_without_resending(a, data, kept)
    assert a.stop() == 0


def test_when_the_watching_node_dies_the_other_takes_the_folder_over(tmp_path, pg_url, make_node):
    shared = tmp_path / "nas" / "dailies"
    a, b = sharing(make_node, pg_url, shared)
    start_watcher_then_standby(a, b)
    write_file(shared / "Roll1" / "before.mov", MIB)
    wait_until(lambda: a.all_done(1), 30, "the first file done")
    assert "folder lease taken" not in b.log(), "bay-2 stood by"
    a.kill()
    killed_at = time.monotonic()
    wait_until(lambda: "folder lease taken: folder=dailies" in b.log(), 30, "bay-2 took over")
    failover = time.monotonic() - killed_at
    write_file(shared / "Roll1" / "after.mov", MIB)
    wait_until(lambda: b.all_done(2), 30, "the file dropped after the failover done")
    landed_once(b, ["before.mov", "after.mov"])
    print(f"folder failover: {failover:.1f}s after the kill (lease {LEASE})")
    text = watchd("status", "--config", str(b.config_path)).stdout
    assert "Nodes (sharing the database):" in text
    assert "bay-1            silent" in text and "watching: dailies" in text, text
    assert failover < 3 * 3 + 5  # a lease, a renewal period, a little slack


def test_postgresql_restarted_mid_run_both_nodes_recover(tmp_path, make_pg_server, make_node):
    server = make_pg_server()
    database = server.url(server.create_database())
    shared = tmp_path / "nas" / "dailies"
    a, b = sharing(make_node, database, shared)
    a.start()
    b.start()
    wait_until(lambda: len(a.query("SELECT * FROM folder_leases")) == 1, 30, "a folder lease")
    first = [f"Roll1/A{n:03d}.mov" for n in range(15)]
    for name in first:
        write_file(shared / name, 256 * 1024)
    wait_until(lambda: len(a.jobs()) >= 5, 30, "files queued")
    server.restart()
    second = [f"Roll2/B{n:03d}.mov" for n in range(15)]
    for name in second:
        write_file(shared / name, 256 * 1024)
    wait_until(lambda: a.all_done(30), 120, "every file done after the restart")
    landed_once(a, [n.split("/")[1] for n in first + second])
    assert a.process is not None and b.process is not None
    assert a.process.poll() is None and b.process.poll() is None, "both nodes still running"


def test_a_standby_nodes_edit_of_a_shared_folder_cancels_none_of_the_watchers_files(
    tmp_path, pg_url, make_node
):
    shared = tmp_path / "nas" / "dailies"
    a, b = sharing(make_node, pg_url, shared, parallel_files=1)
    a.emulator.set_faults({"bandwidth_bytes_per_s": 2 * MIB})
    start_watcher_then_standby(a, b)
    names = [f"C{n:02d}.mov" for n in range(4)]
    for name in names:
        write_file(shared / "Roll1" / name, 4 * MIB)
    wait_until(lambda: len(a.jobs()) == 4, 30, "the files queued")
    b.folders[0]["metadata"] = {"tags": ["dailies"]}  # the operator's edit, on the standby
    b.write_config()
    assert b.process is not None
    b.process.send_signal(signal.SIGHUP)
    wait_until(lambda: "stopped serving: folder=dailies" in b.log(), 20, "the reload")
    a.emulator.set_faults({"bandwidth_bytes_per_s": None})
    wait_until(lambda: [j["state"] for j in a.jobs()] == ["done"] * 4, 60, "every file done")
    landed_once(a, names)
