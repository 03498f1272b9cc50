"""The parts of a big file: URLs asked for ahead, memory bounded, every ETag right."""

import hashlib
import os
import threading
import time

import pytest

from tests.integration.conftest import folder_id
from watchd.base.stop import Stopped, StopToken
from watchd.flowcapture.budget import Budget, TransferBudgets
from watchd.flowcapture.parts import plan_parts
from watchd.flowcapture.upload import upload_parts

MIB = 1024 * 1024


class Recorder:
    """Wraps a client's transport to see which requests overlap."""

    def __init__(self, client):
        self.lock = threading.Lock()
        self.puts_in_flight = 0
        self.url_requests_during_puts = 0
        call, put = client.transport.call, client.transport.put

        def counted_call(path, params, token):
            if path == "/upload/asset/part":
                with self.lock:
                    if self.puts_in_flight:
                        self.url_requests_during_puts += 1
            return call(path, params, token)

        def counted_put(*args, **kwargs):
            with self.lock:
                self.puts_in_flight += 1
            try:
                return put(*args, **kwargs)
            finally:
                with self.lock:
                    self.puts_in_flight -= 1

        client.transport.call = counted_call
        client.transport.put = counted_put


def test_urls_for_the_next_parts_are_asked_for_while_parts_are_on_the_wire(
    emulator, client, tmp_path
):
    emulator.set_faults({"bandwidth_bytes_per_s": 40 * MIB})  # PUTs take a while
    data = os.urandom(8 * 5 * MIB)
    source = tmp_path / "big.mov"
    source.write_bytes(data)
    upload = client.upload_init(folder_id(client, "Dailies"), "big.mov")
    parts = plan_parts(len(data), 5 * MIB)
    recorder = Recorder(client)
    etags = upload_parts(client, upload, source, parts, parallel=2)
    assert recorder.url_requests_during_puts >= 4
    for part in parts:
        chunk = data[part.offset : part.offset + part.size]
        assert etags[part.number].strip('"') == hashlib.md5(chunk).hexdigest()


def test_parts_held_in_memory_never_exceed_the_budget(emulator, client, tmp_path):
    data = os.urandom(10 * 5 * MIB)
    source = tmp_path / "big.mov"
    source.write_bytes(data)
    upload = client.upload_init(folder_id(client, "Dailies"), "big.mov")
    budget = Budget(12 * MIB)  # two 5 MiB parts fit, a third does not
    most = []
    acquire = budget.acquire

    def watched(amount, stop=None):
        taken = acquire(amount, stop)
        most.append(budget.used)
        return taken

    budget.acquire = watched  # type: ignore[method-assign]
    etags = upload_parts(
        client,
        upload,
        source,
        plan_parts(len(data), 5 * MIB),
        parallel=8,
        budgets=TransferBudgets(memory=budget),
    )
    assert len(etags) == 10
    assert max(most) <= 12 * MIB
    assert budget.used == 0, "every part gave its bytes back"


def test_a_stop_between_parts_raises_stopped_never_a_partial_result(emulator, client, tmp_path):
    path = tmp_path / "stopped.mov"
    path.write_bytes(os.urandom(10 * MIB))
    upload = client.upload_init(folder_id(client, "Dailies"), "stopped.mov")
    stop = StopToken()
    done: list[int] = []

    def after_first(result):
        done.append(result.number)
        time.sleep(0.5)  # the second part is prepared (URL asked for) meanwhile
        stop.stop("the daemon is stopping")  # between parts: no request or chunk sees it

    with pytest.raises(Stopped):
        upload_parts(
            client,
            upload,
            path,
            plan_parts(10 * MIB, 5 * MIB),
            parallel=1,
            on_part_done=after_first,
            stop=stop,
        )
    assert len(done) == 1, "the other part was prepared but never sent"
