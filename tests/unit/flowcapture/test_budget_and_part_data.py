import base64
import hashlib
import os
import threading
import time

import pytest

from watchd.base.stop import Stopped, StopToken
from watchd.flowcapture.budget import Budget
from watchd.flowcapture.filedata import PartData


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
