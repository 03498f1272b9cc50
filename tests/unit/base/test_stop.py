import threading
import time

import pytest

from watchd.base.stop import Stopped, StopToken, join_all


def test_a_child_stops_with_its_parent_and_keeps_the_parents_reason():
    daemon = StopToken()
    job = daemon.child()
    daemon.stop("the daemon is stopping")
    assert job.stopped
    assert job.reason == "the daemon is stopping"


def test_a_child_stopped_alone_leaves_its_parent_and_siblings_running():
    daemon = StopToken()
    cancelled, other = daemon.child(), daemon.child()
    cancelled.stop("cancelled by an operator")
    assert cancelled.stopped and not daemon.stopped and not other.stopped


def test_a_child_made_after_the_parent_stopped_is_stopped_already():
    daemon = StopToken()
    daemon.stop("stopping")
    assert daemon.child().stopped


def test_the_first_reason_wins():
    token = StopToken()
    token.stop("first")
    token.stop("second")
    assert token.reason == "first"


def test_sleep_ends_early_and_raises_when_stopped_from_another_thread():
    token = StopToken()
    threading.Timer(0.1, token.stop, args=("stopping",)).start()
    started = time.monotonic()
    with pytest.raises(Stopped, match="stopping"):
        token.sleep(30)
    assert time.monotonic() - started < 5


def test_sleep_without_a_stop_returns_normally():
    StopToken().sleep(0.01)


def test_join_all_returns_the_threads_still_running_at_the_deadline():
    release = threading.Event()
    quick = threading.Thread(target=lambda: None)
    stuck = threading.Thread(target=release.wait, daemon=True)
    quick.start()
    stuck.start()
    left = join_all([quick, stuck], time.monotonic() + 0.2)
    release.set()
    assert left == [stuck]


def test_stop_callbacks_run_once_when_stopped_and_not_after_being_forgotten():
    token = StopToken()
    ran, forgotten = [], []
    token.on_stop(lambda: ran.append(1))
    forget = token.on_stop(lambda: forgotten.append(1))
    forget()
    token.stop("stopping")
    token.stop("again")
    assert ran == [1] and forgotten == []


def test_a_callback_registered_after_the_stop_runs_at_once():
    token = StopToken()
    token.stop("stopping")
    ran = []
    token.on_stop(lambda: ran.append(1))
    assert ran == [1]


def test_a_failing_callback_does_not_keep_the_stop_from_children():
    parent = StopToken()
    child = parent.child()

    def broken() -> None:
        raise ZeroDivisionError

    parent.on_stop(broken)
    parent.stop("stopping")
    assert child.stopped
