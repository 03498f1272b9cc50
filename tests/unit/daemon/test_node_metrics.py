from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.registry import Collector

from watchd.daemon.metrics import node_metrics
from watchd.store.leases import NodeInfo


def info(name: str, age: float, stopped: bool = False, jobs: int = 0) -> NodeInfo:
    now = datetime.now(UTC)
    return NodeInfo(
        name=name,
        host="h",
        pid=1,
        started_at=now,
        heartbeat_at=now,
        stopped_at=now if stopped else None,
        seconds_since_heartbeat=age,
        jobs_held=jobs,
        folders_held=["dailies"] if jobs else [],
    )


def test_each_node_gets_its_own_samples():
    families = node_metrics(
        [info("bay-1", 2, jobs=3), info("bay-2", 45), info("bay-3", 1, True)], 20
    )

    class Fixed(Collector):
        def collect(self):
            return families

    registry = CollectorRegistry()
    registry.register(Fixed())
    text = generate_latest(registry).decode()
    assert 'watchd_node_up{node="bay-1"} 1.0' in text
    assert 'watchd_node_up{node="bay-2"} 0.0' in text, "silent for longer than a lease"
    assert 'watchd_node_up{node="bay-3"} 0.0' in text, "stopped"
    assert 'watchd_node_jobs_held{node="bay-1"} 3.0' in text
    assert 'watchd_node_folders_watched{node="bay-1"} 1.0' in text
