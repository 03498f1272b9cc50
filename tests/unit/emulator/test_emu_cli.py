"""``watchd emulator`` argument handling: faults file merged with flags."""

from __future__ import annotations

import argparse

import pytest

from watchd.cli import emulator_cmd
from watchd.emulator import FaultConfigError


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    emulator_cmd.register(parser.add_subparsers())
    return parser.parse_args(["emulator", "--data", "/tmp/x", *argv])


def test_defaults_leave_faults_to_the_emulator():
    args = parse()
    assert (args.port, args.s3_port, args.host) == (8700, 8701, "127.0.0.1")
    assert emulator_cmd.initial_faults(args) == {}


def test_flags_override_the_faults_file(tmp_path):
    faults = tmp_path / "faults.yaml"
    faults.write_text(
        "latency_ms: 5\nprocessing_delay_s: 9\n"
        "rules:\n  - {endpoint: '*', status: 503, rate: 0.1}\n"
    )
    args = parse("--faults", str(faults), "--processing-delay", "0.5", "--bandwidth", "1e6")
    assert emulator_cmd.initial_faults(args) == {
        "latency_ms": 5,
        "processing_delay_s": 0.5,
        "bandwidth_bytes_per_s": 1e6,
        "rules": [{"endpoint": "*", "status": 503, "rate": 0.1}],
    }


def test_a_faults_file_that_is_not_an_object_is_refused(tmp_path):
    faults = tmp_path / "faults.json"
    faults.write_text("[1, 2]")
    with pytest.raises(FaultConfigError, match=r"faults\.json"):
        emulator_cmd.initial_faults(parse("--faults", str(faults)))
    assert isinstance(emulator_cmd.build(parse("--faults", str(faults))), str)
