"""Telling boots of a machine apart, by id where readable, else by their moment."""

from __future__ import annotations

import time

from watchd.base.boot import BOOT_MOMENT_SLACK_SECONDS, Boot, this_boot


def test_ids_decide_when_both_have_one_else_the_moments_within_the_slack():
    assert Boot("a", 1000.0).same_as(Boot("a", 5000.0))  # the clock stepped: the id knows
    assert not Boot("a", 1000.0).same_as(Boot("b", 1000.0))
    assert Boot("", 1000.0).same_as(Boot("a", 1000.0 + BOOT_MOMENT_SLACK_SECONDS - 1))
    assert not Boot("", 1000.0).same_as(Boot("a", 1000.0 + BOOT_MOMENT_SLACK_SECONDS + 1))


def test_two_readings_in_this_process_are_the_same_boot():
    first = this_boot()
    time.sleep(0.05)
    second = this_boot()
    assert first.same_as(second) and Boot("", first.at).same_as(Boot("", second.at))
    assert abs(first.at - second.at) < 1.0
    assert 0 < first.at < time.time()
