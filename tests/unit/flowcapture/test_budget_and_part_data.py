import base64
import hashlib
import os
import threading
import time

import pytest

from watchd.base.stop import Stopped, StopToken
from watchd.flowcapture.budget import Budget
from watchd.flowcapture.buffers import SPARE_SECONDS, BufferPool
from watchd.flowcapture.filedata import PartData

MIB = 1024 * 1024


def test_a_budget_lets_holders_in_until_it_is_full_and_wakes_the_next_on_release():
    budget = Budget(10)
    first = budget.acquire(6)
    got_in = threading.Event()

    def second():
        with budget.hold(6):
            got_in.set()

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.2)
    assert not got_in.is_set() and budget.used == 6
    budget.release(first)
    thread.join(5)
    assert got_in.is_set()
    assert budget.used == 0


def test_more_than_the_whole_budget_takes_all_of_it_instead_of_waiting_forever():
    budget = Budget(10)
    with budget.hold(100):
        assert budget.used == 10
    assert budget.used == 0


def test_a_stop_ends_a_wait_for_room():
    budget = Budget(1)
    budget.acquire(1)
    stop = StopToken()
    threading.Timer(0.2, stop.stop, args=("stopping",)).start()
    with pytest.raises(Stopped):
        budget.acquire(1, stop)


def test_a_stop_wins_over_room_made_at_the_same_moment():
    # At a daemon stop every holder is stopped and gives its units back: a waiter woken
    # by that must not take them and go on to send what it was waiting to send.
    budget = Budget(1)
    budget.acquire(1)
    stop = StopToken()
    outcome: list[object] = []

    def waiter():
        try:
            outcome.append(budget.acquire(1, stop))
        except Stopped as exc:
            outcome.append(exc)

    thread = threading.Thread(target=waiter)
    thread.start()
    time.sleep(0.1)  # (waiting for room)
    stop.stop("stopping")
    budget.release(1)  # the room arrives with the stop
    thread.join(5)
    assert len(outcome) == 1 and isinstance(outcome[0], Stopped)
    assert budget.used == 0
    with pytest.raises(Stopped):
        budget.acquire(1, stop)  # a stopped caller gets nothing, even with room


def test_a_part_is_read_once_and_sent_from_the_same_bytes(tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 7)
    path = tmp_path / "f.mov"
    path.write_bytes(data)
    part = PartData(path, 1024, 2 * 1024 * 1024)
    wanted = data[1024 : 1024 + 2 * 1024 * 1024]
    assert part.md5 == base64.b64encode(hashlib.md5(wanted).digest()).decode()
    seen = []
    body = part.body(seen.append)
    assert len(body) == len(wanted)
    chunks = []
    while chunk := body.read(300_000):
        chunks.append(bytes(chunk))
    assert b"".join(chunks) == wanted
    assert sum(seen) == len(wanted)


def test_a_file_shorter_than_its_part_is_an_eof_error(tmp_path):
    path = tmp_path / "short.mov"
    path.write_bytes(b"x" * 100)
    with pytest.raises(EOFError):
        PartData(path, 50, 100)


def test_a_part_gives_its_memory_back_for_the_next_part_and_a_short_read_gives_it_back_too(
    tmp_path,
):
    pool = BufferPool(spare_limit=4 * MIB)
    path = tmp_path / "f.mov"
    path.write_bytes(os.urandom(3 * MIB))
    first = PartData(path, 0, 2 * MIB, pool)
    first.release()
    first.release()  # twice is harmless
    assert pool.spare_bytes == 2 * MIB
    second = PartData(path, MIB, 2 * MIB - 5, pool)  # same whole-MiB size: the same mapping
    assert pool.spare_bytes == 0
    body = second.body()
    sent = b"".join(bytes(chunk) for chunk in iter(body.read, b""))
    assert sent == path.read_bytes()[MIB : 3 * MIB - 5]
    second.release()
    with pytest.raises(EOFError):
        PartData(path, 2 * MIB, 2 * MIB, pool)
    assert pool.spare_bytes == 2 * MIB, "the failed read handed its mapping back"


def test_spare_buffers_are_capped_and_closed_when_nobody_asked_for_them_a_while():
    now = [0.0]
    pool = BufferPool(spare_limit=3 * MIB, clock=lambda: now[0])
    buffers = [pool.take(MIB) for _ in range(4)]
    for buffer in buffers:
        pool.give(buffer)
    assert pool.spare_bytes == 3 * MIB
    assert buffers[3].closed, "the one beyond the cap was closed at once"
    now[0] = SPARE_SECONDS + 1
    assert pool.spare_bytes == 0
    assert all(buffer.closed for buffer in buffers)


def test_a_smaller_memory_budget_closes_the_spares_beyond_it():
    pool = BufferPool(spare_limit=4 * MIB)
    buffers = [pool.take(MIB) for _ in range(4)]
    for buffer in buffers:
        pool.give(buffer)
    pool.limit_spares(2 * MIB)  # transfer.buffer: 2 MiB
    assert pool.spare_bytes == 2 * MIB
    assert sum(buffer.closed for buffer in buffers) == 2
    pool.give(pool.take(MIB))
    extra = pool.take(3 * MIB)  # none spare of this size: a new one, over the cap when given
    pool.give(extra)
    assert extra.closed and pool.spare_bytes == 2 * MIB
