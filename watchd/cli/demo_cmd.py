"""`watchd demo`: the local emulator plus a real daemon on a demo drop folder.

Everything lives in ./watchd-demo/: the drop folder, the config, the API key
file, the daemon's state and log, and the emulator's data. At the first start
a sample clip is dropped in so the whole life of a file shows in the log at
once; a later start carries on with what is there (and keeps the config as
edited, unless the emulator had to move to other ports). Ctrl-C stops the
daemon, then the emulator.
"""

from __future__ import annotations

import argparse
import fcntl
import itertools
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import yaml

from watchd.cli.emulator_cmd import AUTOSAVE_SECONDS
from watchd.config import load_config
from watchd.config.problems import ConfigError
from watchd.daemon.app import Daemon
from watchd.daemon.logs import configure_logging
from watchd.daemon.runtime_files import daemon_pid
from watchd.emulator import Emulator

DEMO_EMAIL = "demo@example.com"
DEMO_API_KEY = "demo-api-key"  # the emulator's built-in demo user; not a real secret
SAMPLE_BYTES = 12 * 1024 * 1024  # big enough for three 5 MiB parts
SAMPLE_DELAY_SECONDS = 2.0  # let the daemon start before the sample arrives
DEFAULT_API_PORT = 8700  # the emulator's (the README's examples use it)
UNREADABLE = ""  # the url of a demo config that cannot be read as YAML
DEMO_LOCK = ".demo.lock"  # held by the running demo (see _demo_lock)
STATUS_PORT = 9464  # the status page and /metrics (any free port when taken)

CONFIG_TEMPLATE = """\
# watchd demo configuration (written by `watchd demo`; edit it and run the demo again:
# it is kept, unless the emulator's port changed)
flowcapture:
  url: {api_url}
  email: {email}
  api_key_file: api_key            # mode 600; never put the key itself in YAML
state_dir: state
log: {{file: watchd.log, level: info}}
transfer: {{part_size: 5MiB}}
retry: {{max_attempts: 5, backoff_initial: 5s, backoff_max: 1m}}
scan: {{rescan_interval: 30s}}
metrics: {{listen: "127.0.0.1:{status_port}"}}   # the status page (/) and /metrics; local only
folders:
  - name: dailies
    path: drop
    project: "Demo Production/Dailies"
    settle: 3s
    batch: {{name: "{{subdir}}", idle: 5s}}   # one batch per subfolder of drop/
    metadata: {{tags: [demo], from_path: '(?P<scene>\\d+)_(?P<take>\\d+)\\.\\w+$'}}
    after_upload: {{move_to: uploaded}}     # archived here once in Flow Capture
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the emulator and a daemon on a demo drop folder (./watchd-demo)",
        description="Start a local Flow Capture emulator and a watchd daemon watching "
        "./watchd-demo/drop. Drop files there and watch them upload. Ctrl-C stops both.",
    )
    parser.add_argument("--dir", type=Path, default=Path("watchd-demo"), help="demo folder")
    parser.add_argument(
        "--port", type=int, help="emulator API port (default: the config's, or 8700)"
    )
    parser.add_argument("--s3-port", type=int, default=8701, help="emulator object store port")
    parser.add_argument(
        "--status-port",
        type=int,
        help=f"status page and /metrics port of a new demo config (default {STATUS_PORT})",
    )
    parser.add_argument(
        "--no-sample", action="store_true", help="do not drop a sample clip at the first start"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    base: Path = args.dir.resolve()
    base.mkdir(parents=True, exist_ok=True)
    lock = _demo_lock(base)
    running = daemon_pid(base / "state") if lock is not None else None
    if lock is None or running is not None:
        print(
            f"watchd demo: a demo already runs in {base}"
            if lock is None
            else f"watchd demo: a watchd already runs with {base / 'state'} (pid {running}): "
            "`watchd run` with the demo's config? Stop it first",
            file=sys.stderr,
        )
        return 1
    config_path = base / "watchd.yaml"
    first = not config_path.exists()
    port = args.port if args.port is not None else _configured_port(config_path)
    emulator = Emulator(
        data_dir=base / "emulator",
        api_port=_free_port(port),
        s3_port=_free_port(args.s3_port),
        faults={"processing_delay_s": 2.0},
        autosave_seconds=AUTOSAVE_SECONDS,  # (a demo killed keeps what it uploaded)
    )
    emulator.start()
    try:
        _write_site(config_path, emulator.api_url, args.status_port or STATUS_PORT)
        try:
            config = load_config(config_path)
        except ConfigError as exc:  # (edited by hand)
            print(f"watchd demo: the configuration has problems:\n{exc}", file=sys.stderr)
            return 2
        if args.status_port is not None:
            _note_status_port(
                config_path, config.metrics.listen if config.metrics else None, args.status_port
            )
        configure_logging(config.log.level, config.log.file, config.log.format)
        daemon = Daemon(config_path, config)
        daemon.start()
        listener = daemon.listener
        sample = first and not args.no_sample
        _explain(base, config_path, emulator, listener.port if listener else None, sample)
        if sample:
            threading.Timer(SAMPLE_DELAY_SECONDS, _drop_sample, [base / "drop"]).start()
        daemon.run()  # until Ctrl-C
    finally:
        emulator.stop()
    print("\nDemo stopped. Run it again to carry on where it left off.")
    return 0


def _demo_lock(base: Path) -> IO[str] | None:
    """Hold ``base``'s demo lock until this process ends; None if another demo holds it.

    Two demos started at the same instant would both find no daemon running yet;
    the second would then start another emulator on the same data and write the
    config anew before failing on the daemon's lock.
    """
    handle = (base / DEMO_LOCK).open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def _note_status_port(config_path: Path, listen: str | None, asked: int) -> None:
    """Say so when the status page is not on the ``--status-port`` asked for."""
    if listen is not None and listen.rpartition(":")[2] == str(asked):
        return
    print(
        f"note: the status page is not on port {asked}: {config_path} has metrics.listen: "
        f"{listen or 'off'} (the port was taken, or the config was kept as you left it: "
        "edit it there)",
        flush=True,
    )


def _free_port(port: int) -> int:
    """Return ``port`` if a server can listen on it on 127.0.0.1, else a free one.

    Like the servers (which reuse addresses), a port whose connections of a
    run just stopped linger in TIME_WAIT counts as free.
    """
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])
    return port


def _write_site(config_path: Path, api_url: str, status_port: int) -> None:
    """Make the demo folder around ``config_path``; write the config unless one is there
    already for an emulator at ``api_url`` (one for another port is kept, renamed with
    the time)."""
    base = config_path.parent
    for sub in ("drop", "uploaded", "state"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    key = base / "api_key"
    key.write_text(DEMO_API_KEY + "\n")
    key.chmod(0o600)
    if config_path.exists():
        if _names_emulator(config_path, api_url):
            return  # (as the user left it)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        backup = config_path.with_name(f"watchd.yaml.{stamp}.bak")
        for n in itertools.count(1):
            if not backup.exists():
                break
            backup = config_path.with_name(f"watchd.yaml.{stamp}-{n}.bak")
        config_path.replace(backup)
        print(
            f"the emulator runs on other ports this time: {config_path} written anew "
            f"(yours is {backup.name})",
            flush=True,
        )
    config_path.write_text(
        CONFIG_TEMPLATE.format(
            api_url=api_url, email=DEMO_EMAIL, status_port=_free_port(status_port)
        )
    )


def _names_emulator(config_path: Path, api_url: str) -> bool:
    """Does the demo config at ``config_path`` use the emulator at ``api_url``? (One
    broken by hand counts as yes: it is kept, and loading it says what is wrong.)"""
    url = _configured_url(config_path)
    return url is not None and (url == UNREADABLE or url.rstrip("/") == api_url.rstrip("/"))


def _configured_port(config_path: Path) -> int:
    """The emulator port an existing demo config names on this machine (so a restart
    keeps it), else the default."""
    url = _configured_url(config_path)
    try:
        parts = urlsplit(url) if url else None
        port = parts.port if parts and parts.hostname in ("127.0.0.1", "localhost") else None
    except ValueError:  # (a port out of range, edited by hand)
        port = None
    return port or DEFAULT_API_PORT


def _configured_url(config_path: Path) -> str | None:
    """The ``flowcapture.url`` of a demo config: None if there is none, UNREADABLE if
    the file cannot be read as YAML."""
    try:
        data = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return UNREADABLE
    service = data.get("flowcapture") if isinstance(data, dict) else None
    url = service.get("url") if isinstance(service, dict) else None
    return url if isinstance(url, str) else None


def _drop_sample(drop: Path) -> None:
    folder = drop / "Day01"
    folder.mkdir(exist_ok=True)
    temp = folder / ".A001_012_003.mov.part"
    temp.write_bytes(os.urandom(SAMPLE_BYTES))
    temp.rename(folder / "A001_012_003.mov")  # write, then rename into place


def _explain(
    base: Path, config_path: Path, emulator: Emulator, status: int | None, sample: bool
) -> None:
    def show(path: Path) -> str:
        return os.path.relpath(path, Path.cwd())

    arrives = (
        f"A sample clip arrives in\n{show(base / 'drop')}/Day01/ in a moment. " if sample else ""
    )

    print(
        f"""
watchd demo is running.
  Flow Capture emulator: {emulator.api_url} (objects on {emulator.s3_url})
  drop folder:           {show(base / "drop")}/   (one batch per subfolder)
  archive:               {show(base / "uploaded")}/   (files move here once in Flow Capture)
  log:                   {show(base / "watchd.log")}
  status page:           http://127.0.0.1:{status}/   (Prometheus metrics on /metrics)

Try, in another terminal:
  mkdir -p {show(base / "drop")}/Day02 && cp some_clip.mov {show(base / "drop")}/Day02/
  .venv/bin/watchd status --config {show(config_path)}
  curl -s {emulator.api_url}/_emulator/state | python3 -m json.tool | less

(names like 012_003 become scene/take metadata). {arrives}Ctrl-C stops the demo.
""",
        flush=True,
    )
