"""Jobs and folders claimed under leases by several nodes on one PostgreSQL database."""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from tests.integration.store.test_concurrency import new_job
from watchd.base import boot
from watchd.store.database import Database, sqlite_url
from watchd.store.leases import LocalClaims, NodeNameTaken, SharedClaims, nodes
from watchd.store.migrate import upgrade
from watchd.store.models import Job, JobState, Node

LEASE = 1.0  # seconds: tests run failover in seconds


def add_jobs(db: Database, count: int, state: JobState = JobState.QUEUED) -> list[int]:
    with db.transaction() as session:
        jobs = [new_job(n) for n in range(count)]
        for job in jobs:
            job.state = state
        session.add_all(jobs)
        session.flush()
        return [job.id for job in jobs]


def node(db: Database, name: str, lease: float = LEASE) -> SharedClaims:
    claims = SharedClaims(db, name, lease)
    claims.register()
    return claims


def test_two_nodes_claiming_at_once_never_get_the_same_job(pg_db):
    ids = add_jobs(pg_db, 40)
    a, b = node(pg_db, "bay-1"), node(pg_db, "bay-2")
    got: dict[str, list[int]] = {"a": [], "b": []}
    start = threading.Barrier(2)

    def claim(key: str, claims: SharedClaims) -> None:
        start.wait()
        for _ in range(4):
            got[key] += claims.next_jobs(5, got[key], ["dailies"])

    threads = [threading.Thread(target=claim, args=(k, c)) for k, c in (("a", a), ("b", b))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not set(got["a"]) & set(got["b"])
    assert sorted(got["a"] + got["b"]) == ids
    assert a.next_jobs(5, got["a"], ["dailies"]) == [], "nothing left unleased"
    with pg_db.reading() as session:
        holders = dict(session.execute(select(Job.id, Job.lease_node)).all())
    assert {holders[i] for i in got["a"]} == {"bay-1"}


def test_ingesting_jobs_come_before_those_under_way_and_queued_ones(pg_db):
    queued = add_jobs(pg_db, 2)
    ingesting = add_jobs(pg_db, 1, JobState.INGESTING)
    a = node(pg_db, "bay-1")
    assert a.next_jobs(2, [], ["dailies"]) == [ingesting[0], queued[0]]
    assert a.next_jobs(5, [], ["elsewhere"]) == [], "only the folders asked for"


def test_an_expired_lease_is_taken_over_and_a_renewed_one_is_not(pg_db):
    ids = add_jobs(pg_db, 2)
    a, b = node(pg_db, "bay-1"), node(pg_db, "bay-2")
    assert a.next_jobs(2, [], ["dailies"]) == ids
    time.sleep(LEASE * 0.6)
    assert a.renew([ids[0]]) is True  # bay-1 keeps working on the first only
    time.sleep(LEASE * 0.6)
    assert b.next_jobs(5, [], ["dailies"]) == [ids[1]], "the unrenewed one was taken over"
    assert a.renew(ids) is False, "bay-1 learns it lost a job"
    assert a.lost(ids) == [ids[1]]


def test_a_clean_stop_gives_everything_back_at_once(pg_db):
    ids = add_jobs(pg_db, 3)
    a, b = node(pg_db, "bay-1", lease=60), node(pg_db, "bay-2", lease=60)
    assert a.hold_folders({"dailies": "/mnt/nas/dailies"}) == {"dailies"}
    assert a.next_jobs(3, [], ["dailies"]) == ids
    assert b.next_jobs(3, [], ["dailies"]) == []
    assert b.hold_folders({"dailies": "/mnt/nas/dailies"}) == set()
    a.stop()
    assert b.next_jobs(3, [], ["dailies"]) == ids
    assert b.hold_folders({"dailies": "/mnt/nas/dailies"}) == {"dailies"}
    listed = {n.name: n for n in nodes(pg_db)}
    assert listed["bay-1"].stopped_at is not None and listed["bay-1"].jobs_held == 0
    assert listed["bay-2"].jobs_held == 3 and listed["bay-2"].folders_held == ["dailies"]
    assert listed["bay-2"].seconds_since_heartbeat < 30


def test_a_folder_is_watched_by_one_node_and_fails_over_when_its_lease_runs_out(pg_db):
    a, b = node(pg_db, "bay-1"), node(pg_db, "bay-2")
    folders = {"dailies": "/mnt/nas/dailies", "editorial": "/mnt/nas/editorial"}
    assert a.hold_folders(folders) == set(folders)
    assert b.hold_folders(folders) == set()
    assert a.hold_folders({"dailies": folders["dailies"]}) == {"dailies"}  # renewed
    time.sleep(LEASE * 1.3)
    assert b.hold_folders(folders) == set(folders)
    assert a.hold_folders(folders) == set()


def test_a_second_live_node_with_the_same_name_is_refused_a_dead_one_is_replaced(pg_db):
    node(pg_db, "bay-1", lease=60)
    with pg_db.transaction() as session:  # as if another process on another host had it
        session.execute(update(Node).values(host="elsewhere", pid=1, heartbeat_at=func.now()))
    with pytest.raises(NodeNameTaken, match="another node named 'bay-1' is running"):
        node(pg_db, "bay-1", lease=60)
    with pg_db.transaction() as session:
        session.execute(
            update(Node).values(heartbeat_at=func.now() - func.make_interval(0, 0, 0, 0, 0, 5))
        )
    node(pg_db, "bay-1", lease=1)  # its heartbeat is older than a lease: a crashed earlier self


def test_a_node_started_again_after_a_crash_takes_over_its_own_registration_at_once(pg_db):
    mine = SharedClaims(pg_db, "bay-1", 60).register()
    with pg_db.transaction() as session:  # the process that registered it died just now
        session.execute(update(Node).values(pid=1, heartbeat_at=func.now()))
    crashed = dataclasses.replace(mine, pid=1)
    assert crashed.boot_id and crashed.booted_at > 0  # this boot, recorded with it
    earlier = datetime.fromisoformat(mine.started_at) - timedelta(seconds=1)
    not_ours = dataclasses.replace(crashed, started_at=earlier.isoformat())
    cloned = dataclasses.replace(crashed, boot_id="another-machine-or-boot")  # a copied folder
    for other in (not_ours, cloned):
        with pytest.raises(NodeNameTaken, match="another node named 'bay-1' is running"):
            SharedClaims(pg_db, "bay-1", 60).register(other)
    again = SharedClaims(pg_db, "bay-1", 60).register(crashed)
    assert again.pid == os.getpid()
    assert datetime.fromisoformat(again.started_at) > datetime.fromisoformat(mine.started_at)
    with pg_db.reading() as session:
        assert session.scalar(select(Node.pid)) == os.getpid()


def test_where_the_boot_id_cannot_be_read_the_moment_of_the_boot_tells_boots_apart(
    pg_db, tmp_path, monkeypatch
):
    monkeypatch.setattr(boot, "BOOT_ID", tmp_path / "hidden")  # ProcSubset=pid hides /proc/sys
    mine = SharedClaims(pg_db, "bay-1", 60).register()
    assert mine.boot_id == "" and mine.booted_at > 0
    with pg_db.transaction() as session:
        session.execute(update(Node).values(pid=1, heartbeat_at=func.now()))
    crashed = dataclasses.replace(mine, pid=1)
    cloned = dataclasses.replace(crashed, booted_at=mine.booted_at - 3600)  # booted an hour apart
    with pytest.raises(NodeNameTaken):
        SharedClaims(pg_db, "bay-1", 60).register(cloned)
    assert SharedClaims(pg_db, "bay-1", 60).register(crashed).pid == os.getpid()


def test_a_single_node_on_sqlite_hands_out_jobs_without_leases(tmp_path):
    db = Database(sqlite_url(tmp_path))
    upgrade(db.engine)
    ids = add_jobs(db, 3)
    claims = LocalClaims(db)
    assert claims.next_jobs(2, [], ["dailies"]) == ids[:2]
    assert claims.next_jobs(5, ids[:2], ["dailies"]) == ids[2:]
    assert claims.hold_folders({"dailies": "/drop"}) == {"dailies"}
    with db.reading() as session:
        assert session.scalar(select(func.count()).where(Job.lease_node.is_not(None))) == 0
