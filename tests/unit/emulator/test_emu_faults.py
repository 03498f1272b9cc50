"""Fault configuration: validation, merging, counts, seeded rates, reset."""

from __future__ import annotations

import threading
import time

import pytest

from watchd.emulator.faults import FaultConfigError, Faults, Throttle


def test_defaults_and_merge():
    faults = Faults({"processing_delay_s": 0.5})
    assert faults.get("url_lifetime_s") == 300
    merged = faults.update({"latency_ms": 20})
    assert merged["processing_delay_s"] == 0.5
    assert merged["latency_ms"] == 20
    assert faults.update({"latency_ms": None})["latency_ms"] == 0


def test_a_count_rule_fires_exactly_count_times():
    faults = Faults({"rules": [{"endpoint": "s3:PUT", "status": 503, "count": 2}]})
    assert [faults.decide("s3:PUT").status for _ in range(3)] == [503, 503, None]
    assert faults.decide("s3:GET").status is None


def test_patterns_latency_and_first_failure_wins():
    faults = Faults(
        {
            "latency_ms": 10,
            "rules": [
                {"endpoint": "s3:*", "latency_ms": 5},
                {"endpoint": "*", "status": 500},
                {"endpoint": "s3:PUT", "status": 503, "count": 1},
            ],
        }
    )
    action = faults.decide("s3:PUT")
    assert action.status == 500
    assert action.latency_s == pytest.approx(0.015)
    assert faults.current()["rules"][2]["count"] == 1  # not consumed behind the first failure


def test_seeded_rates_repeat():
    rules = {"seed": 3, "rules": [{"endpoint": "*", "status": 500, "rate": 0.3}]}
    first = Faults(rules)
    second = Faults(rules)
    assert [first.decide("/x").status for _ in range(50)] == [
        second.decide("/x").status for _ in range(50)
    ]


@pytest.mark.parametrize(
    ("doc", "key"),
    [
        ({"rules": [{"status": 500}]}, "rules[0].endpoint"),
        ({"rules": [{"endpoint": "*"}]}, "rules[0]"),
        ({"rules": [{"endpoint": "*", "status": 302}]}, "rules[0].status"),
        ({"rules": [{"endpoint": "*", "status": 500, "rate": 2}]}, "rules[0].rate"),
        ({"rules": [{"endpoint": "*", "status": 500, "count": -1}]}, "rules[0].count"),
        ({"rules": [{"endpoint": "*", "status": 500, "bogus": 1}]}, "rules[0].bogus"),
        ({"latency_ms": -1}, "latency_ms"),
        ({"seed": "x"}, "seed"),
        ({"what": 1}, "what"),
        ({"rules": [{"endpoint": "*", "after": True, "latency_ms": 5}]}, "rules[0].after"),
        ({"rules": [{"endpoint": "*", "status": 500, "after": "yes"}]}, "rules[0].after"),
        ({"init_same_uuid": "sometimes"}, "init_same_uuid"),
        ({"init_same_uuid": 1}, "init_same_uuid"),
    ],
)
def test_invalid_documents_name_the_key_and_change_nothing(doc, key):
    faults = Faults()
    with pytest.raises(FaultConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        faults.update({"latency_ms": 7, **doc})
    assert faults.get("latency_ms") == 0


def test_an_after_rule_is_decided_on_arrival_but_spent_by_fire_after():
    faults = Faults(
        {"rules": [{"endpoint": "/x", "status": 503, "after": True, "count": 1, "latency_ms": 5}]}
    )
    action = faults.decide("/x")
    assert (action.status, action.after) == (503, True)
    assert action.latency_s == pytest.approx(0.005)
    assert faults.current()["rules"][0]["count"] == 1  # a failed request would not spend it
    racing = faults.decide("/x")
    assert faults.fire_after(action) is True
    assert faults.current()["rules"][0] == {
        "endpoint": "/x", "status": 503, "rate": 1.0, "count": 0, "retry_after": None,
        "reset": False, "after": True, "latency_ms": 5.0, "answer_false": False,
    }  # fmt: skip
    assert faults.fire_after(racing) is False  # spent by the first
    assert faults.decide("/x").status is None
    assert faults.fire_after(faults.decide("/x")) is False  # nothing armed


def test_an_after_rule_replaced_while_the_request_ran_does_not_fire():
    faults = Faults({"rules": [{"endpoint": "*", "reset": True, "after": True}]})
    action = faults.decide("s3:PUT")
    faults.update({"rules": [{"endpoint": "*", "reset": True, "after": True}]})
    assert faults.fire_after(action) is False


def test_init_same_uuid_defaults_to_new_and_takes_the_three_modes():
    faults = Faults({"init_same_uuid": "refuse"})
    assert faults.get("init_same_uuid") == "refuse"
    assert faults.update({"init_same_uuid": "resume"})["init_same_uuid"] == "resume"
    assert faults.update({"init_same_uuid": None})["init_same_uuid"] == "new"
    assert faults.update({"reset": True})["init_same_uuid"] == "refuse"  # the start value


def test_reset_restores_the_start_configuration():
    faults = Faults(
        {"processing_delay_s": 0.1, "rules": [{"endpoint": "*", "status": 500, "count": 1}]}
    )
    faults.decide("/x")
    faults.update({"latency_ms": 9, "rules": []})
    restored = faults.update({"reset": True})
    assert restored["latency_ms"] == 0
    assert restored["rules"][0]["count"] == 1
    assert restored["processing_delay_s"] == 0.1


def test_the_throttle_shares_one_rate():
    faults = Faults({"bandwidth_bytes_per_s": 1_000_000})
    throttle = Throttle(faults, threading.Event())
    started = time.monotonic()
    for _ in range(3):
        throttle.consume(100_000)
    assert time.monotonic() - started == pytest.approx(0.3, abs=0.1)
    assert throttle.chunk_size(1 << 20) == 100_000
