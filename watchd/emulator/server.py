"""The :class:`Emulator`: both servers, their threads, start/stop and the
``state.json`` that carries the API state across restarts."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from watchd.emulator.api import ApiHandler
from watchd.emulator.context import Context
from watchd.emulator.faults import Faults, Throttle
from watchd.emulator.httpio import BaseHandler, EmulatorHTTPServer
from watchd.emulator.objects import ObjectStore
from watchd.emulator.s3 import S3Handler
from watchd.emulator.signing import Signer
from watchd.emulator.snapshot import snapshot
from watchd.emulator.state import EmulatorState
from watchd.emulator.world import World, demo_world

log = logging.getLogger(__name__)

STATE_FILE = "state.json"
STATE_VERSION = 1
STOP_JOIN_SECONDS = 5.0  # how long stop() waits for each server thread
SERVE_POLL_SECONDS = 0.05  # how quickly a server thread notices stop()
_ANY_HOSTS = ("", "0.0.0.0", "::")


class Emulator:
    """The Flow Capture API and S3 emulator; also a context manager.

    Raises FaultConfigError (a ValueError) from the constructor for bad faults.
    """

    def __init__(
        self,
        data_dir: Path | str,
        world: World | None = None,
        host: str = "127.0.0.1",
        api_port: int = 0,
        s3_port: int = 0,
        faults: dict[str, Any] | None = None,
        discard: bool = False,
        url_host: str | None = None,
        clock: Callable[[], float] = time.time,
        autosave_seconds: float | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.world = world if world is not None else demo_world()
        self.host = host
        self.url_host = url_host or ("127.0.0.1" if host in _ANY_HOSTS else host)
        self.discard = discard
        # state.json written this often too, not only at a clean stop: a kill -9 of the
        # emulator (or of the demo around it) then loses seconds of its state, not all
        self.autosave_seconds = None if discard else autosave_seconds
        self._ports = (api_port, s3_port)
        self._save_lock = threading.Lock()  # the autosave and the stop's last save
        self._clock = clock
        self._stop = threading.Event()
        self.faults = Faults(faults)
        self._ctx: Context | None = None
        self._servers: list[EmulatorHTTPServer] = []
        self._threads: list[threading.Thread] = []

    @property
    def ctx(self) -> Context:
        """The running emulator's shared context. Raises RuntimeError before start()."""
        if self._ctx is None:
            raise RuntimeError("the emulator is not running")
        return self._ctx

    @property
    def api_url(self) -> str:
        """Base URL of the Flow Capture API, e.g. ``http://127.0.0.1:8700``."""
        return self._url(0)

    @property
    def s3_url(self) -> str:
        """Base URL of the S3 object store."""
        return self._url(1)

    def _url(self, index: int) -> str:
        if len(self._servers) < 2:
            raise RuntimeError("the emulator is not running")
        return f"http://{self.url_host}:{self._servers[index].server_address[1]}"

    def start(self) -> None:
        """Bind both ports, load ``state.json`` and serve in background threads."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._stop.clear()
        store = ObjectStore(self.data_dir, self.discard, self._clock)
        state = EmulatorState(self._clock)
        self._load(state, store)
        ctx = Context(
            self.world, state, store, Signer(clock=self._clock), self.faults,
            Throttle(self.faults, self._stop), self._stop, clock=self._clock,
        )  # fmt: skip
        self._ctx = ctx
        handlers: tuple[type[BaseHandler], type[BaseHandler]] = (ApiHandler, S3Handler)
        try:
            for port, handler in zip(self._ports, handlers, strict=True):
                self._servers.append(EmulatorHTTPServer((self.host, port), handler, ctx))
        except OSError:
            self._close_servers()
            raise
        ctx.s3_base_url = self.s3_url
        for server, name in zip(self._servers, ("api", "s3"), strict=True):
            thread = threading.Thread(
                target=self._serve, args=(server, name), name=f"emulator-{name}"
            )
            thread.daemon = True
            thread.start()
            self._threads.append(thread)
        if self.autosave_seconds:
            saver = threading.Thread(
                target=self._autosave, args=(ctx, self.autosave_seconds), name="emulator-save"
            )
            saver.daemon = True
            saver.start()
            self._threads.append(saver)
        log.info("emulator serving API on %s and S3 on %s", self.api_url, self.s3_url)

    def _autosave(self, ctx: Context, seconds: float) -> None:
        while not self._stop.wait(seconds):
            self._save(ctx)

    def _serve(self, server: EmulatorHTTPServer, name: str) -> None:
        try:
            server.serve_forever(poll_interval=SERVE_POLL_SECONDS)
        except Exception:
            log.exception("emulator %s server failed", name)

    def stop(self) -> None:
        """Stop serving, drop open connections and write ``state.json``."""
        if self._ctx is None:
            return
        self._stop.set()
        for server in self._servers:
            server.shutdown()
        self._close_servers()
        for thread in self._threads:
            thread.join(STOP_JOIN_SECONDS)
        self._threads = []
        self._save(self._ctx)
        self._ctx = None
        log.info("emulator stopped")

    def _close_servers(self) -> None:
        for server in self._servers:
            server.close_connections()
            server.server_close()
        self._servers = []

    def set_faults(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Merge ``changes`` into the faults (as ``POST /_emulator/faults``); return them."""
        return self.faults.update(changes)

    def add_playlink(self, asset_ids: list[int]) -> int:
        """Make a review link to these assets (as ``POST /_emulator/playlinks``); return its id."""
        return self.ctx.state.add_playlink(asset_ids)

    def snapshot(self) -> dict[str, Any]:
        """Return the state document (as ``GET /_emulator/state``)."""
        return snapshot(self.ctx)

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _load(self, state: EmulatorState, store: ObjectStore) -> None:
        path = self.data_dir / STATE_FILE
        if not path.exists():
            return
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            state.load_json(doc["state"])
            store.load_json(doc["store"])
        except (ValueError, KeyError, TypeError) as exc:
            aside = path.with_suffix(".json.corrupt")
            os.replace(path, aside)
            log.warning("%s is unreadable (%s); moved to %s, starting empty", path, exc, aside.name)
            return
        log.info("loaded emulator state from %s", path)

    def _save(self, ctx: Context) -> None:
        doc = {"version": STATE_VERSION, "state": ctx.state.to_json(), "store": ctx.store.to_json()}
        path = self.data_dir / STATE_FILE
        tmp = path.with_suffix(".json.tmp")
        try:
            with self._save_lock:
                tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
                os.replace(tmp, path)
        except OSError:
            log.exception("could not write %s", path)
