"""The batch closer's runs: the 1 s tick and the run when the last upload ends never
overlap; a tick skips while one is under way, the last upload's run waits for it."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any, cast

from watchd.base.stop import StopToken
from watchd.daemon.periodic import PeriodicWork


class SlowCloser:
    def __init__(self) -> None:
        self.runs = 0
        self.inside = 0
        self.most_inside = 0
        self.entered = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        self.clock_set_back: list[bool] = []  # what each run was told

    def run_once(self, clock_set_back: bool = False) -> bool:
        with self._lock:
            self.runs += 1
            self.clock_set_back.append(clock_set_back)
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        self.entered.set()
        self.release.wait(10)
        with self._lock:
            self.inside -= 1
        return False


def periodic_with(closer: SlowCloser) -> PeriodicWork:
    return PeriodicWork(
        pipeline=cast(Any, SimpleNamespace(closer=closer)),
        folders=cast(Any, None),
        dispatcher=cast(Any, SimpleNamespace(poke=lambda: None)),
        stop=StopToken(),
        write_status=lambda: None,
        store_problem=lambda _error: None,
    )


def test_a_tick_skips_while_a_run_is_under_way_and_the_last_uploads_run_waits_for_it():
    closer = SlowCloser()
    periodic = periodic_with(closer)
    first = threading.Thread(target=periodic.close_batches)
    first.start()
    assert closer.entered.wait(5)
    periodic.close_batches()  # a tick meanwhile: returns at once, runs nothing
    assert closer.runs == 1
    waiting = threading.Thread(target=periodic.close_batches, args=(True,))
    waiting.start()
    waiting.join(0.3)
    assert waiting.is_alive(), "the last upload's run waits for the one under way"
    closer.release.set()
    first.join(5)
    waiting.join(5)
    assert closer.runs == 2
    assert closer.most_inside == 1, "never two at once"


def test_the_first_run_and_the_first_after_a_step_back_look_for_waits_set_before_it():
    closer = SlowCloser()
    closer.release.set()
    periodic = periodic_with(closer)
    periodic.close_batches()  # the first after the start (the clock may have gone back)
    periodic.close_batches()
    periodic.clock_set_back()
    periodic.close_batches()
    periodic.close_batches()
    assert closer.clock_set_back == [True, False, True, False]
