"""After the machine slept, the daemon cuts the connections it kept from before."""

from __future__ import annotations

import logging
from types import SimpleNamespace

from tests.integration.conftest import wait_for
from tests.unit.daemon.test_clock_watch import Clocks
from watchd.base.stop import StopToken
from watchd.daemon.app import Daemon
from watchd.daemon.clock_watch import watch_for_wakes
from watchd.daemon.scheduler import make_scheduler
from watchd.emulator import Emulator
from watchd.flowcapture.client import FlowCaptureClient


def test_a_wake_from_sleep_cuts_the_kept_connections_and_the_next_call_reconnects(
    emulator: Emulator, caplog
):
    clocks = Clocks()
    with FlowCaptureClient("demo@example.com", "demo-api-key", emulator.api_url) as client:
        client.get_groups()  # leaves a connection in the pool, as before a lid was closed
        daemon = SimpleNamespace(
            clock_watch=clocks.watch(), scheduler=make_scheduler(), client=client
        )
        clocks.sleep(600)
        with caplog.at_level(logging.INFO, logger="watchd.daemon.app"):
            Daemon._act_on_clock_changes(daemon)  # type: ignore[arg-type]
        assert "the machine slept for 10m: 1 connection(s) from before cut" in caplog.text
        assert client.get_groups()  # a fresh connection
        caplog.clear()
        clocks.run(1)
        Daemon._act_on_clock_changes(daemon)  # type: ignore[arg-type]
        assert "slept" not in caplog.text


def test_a_command_without_a_main_loop_cuts_its_connections_on_waking_too(emulator, caplog):
    clocks = Clocks()
    done = StopToken()
    with FlowCaptureClient("demo@example.com", "demo-api-key", emulator.api_url) as client:
        client.get_groups()
        thread = watch_for_wakes(client.transport.interrupt, done, clocks.watch())
        try:
            clocks.sleep(120)  # the watch looks once a second
            wait_for(lambda: "the machine slept for 2m: 1 connection(s)" in caplog.text)
            assert client.get_groups()
        finally:
            done.stop("test over")
        thread.join(5)
        assert not thread.is_alive()
