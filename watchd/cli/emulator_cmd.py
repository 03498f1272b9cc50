"""``watchd emulator``: run the local Flow Capture API and S3 emulator until
SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import yaml

from watchd.emulator import Emulator, FaultConfigError, WorldError, demo_world, load_world

log = logging.getLogger(__name__)

DEFAULT_API_PORT = 8700
DEFAULT_S3_PORT = 8701
DEMO_CREDENTIALS = (  # (email, API key, what it is), as demo_world.yaml has them
    ("demo@example.com", "demo-api-key", ""),
    ("viewer@example.com", "viewer-api-key", " (sees, may not upload)"),
    ("camera@example.com", "camera-api-key", ' (tied to "Demo Production/Dailies/Day 01")'),
)


def register(subparsers: Any) -> None:
    """Add the ``emulator`` command."""
    parser = subparsers.add_parser(
        "emulator",
        help="run a local Flow Capture API and S3 emulator",
        description="Serve an emulated Flow Capture API and S3 object store for trying "
        "configurations, tests and benchmarks. Stops on SIGINT or SIGTERM.",
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    add("--url-host", help="host name put in URLs (default: --host, or 127.0.0.1 for 0.0.0.0)")
    add(
        "--port",
        type=int,
        default=DEFAULT_API_PORT,
        help="API port, 0 = any free port (default: 8700)",
    )
    add("--s3-port", type=int, default=DEFAULT_S3_PORT, help="S3 port, 0 = any (default: 8701)")
    add("--data", type=Path, required=True, help="directory for objects, parts and state.json")
    add("--config", type=Path, help="world YAML (users, productions, folders, permissions)")
    add("--discard", action="store_true", help="verify digests but keep no bytes (benchmarks)")
    add("--faults", type=Path, help="JSON or YAML file with initial faults")
    add("--token-lifetime", type=float, metavar="SECONDS", help="token lifetime (default: none)")
    add(
        "--url-lifetime",
        type=float,
        metavar="SECONDS",
        help="presigned URL lifetime (default: 300)",
    )
    add("--processing-delay", type=float, metavar="SECONDS", help="ingest delay (default: 2)")
    add(
        "--latency-ms",
        type=float,
        metavar="N",
        help="latency added to every request, and once to each new connection (its handshake)",
    )
    add("--bandwidth", type=float, metavar="BYTES_PER_S", help="cap on S3 body bytes per second")
    add(
        "--tasks-path",
        choices=("messages", "message"),
        help="serve the task endpoint as /get/tasks/messages or /get/tasks/message "
        "(the vendor document spells it both ways; default: messages)",
    )
    add(
        "--update-asset-metadata",
        choices=("merge", "replace"),
        help="what /update/asset does with metadata keys: merge them into the asset's "
        "or replace its metadata with them (default: merge)",
    )
    parser.set_defaults(func=run)


def initial_faults(args: argparse.Namespace) -> dict[str, Any]:
    """Return the start-up faults: the --faults file, overridden by explicit flags.

    Raises:
        FaultConfigError: when the file cannot be read or is not an object.
    """
    faults: dict[str, Any] = {}
    if args.faults is not None:
        try:
            text = args.faults.read_text(encoding="utf-8")
            loaded = json.loads(text) if args.faults.suffix == ".json" else yaml.safe_load(text)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            raise FaultConfigError(f"{args.faults}: {exc}") from None
        if not isinstance(loaded, dict):
            raise FaultConfigError(f"{args.faults}: must contain an object")
        faults.update(loaded)
    flags = {
        "token_lifetime_s": args.token_lifetime,
        "url_lifetime_s": args.url_lifetime,
        "processing_delay_s": args.processing_delay,
        "latency_ms": args.latency_ms,
        "bandwidth_bytes_per_s": args.bandwidth,
        "tasks_path": args.tasks_path,
        "update_asset_metadata": args.update_asset_metadata,
    }
    faults.update({k: v for k, v in flags.items() if v is not None})
    return faults


AUTOSAVE_SECONDS = 2.0  # state.json written this often (not with --discard): a kill loses little


def build(args: argparse.Namespace) -> Emulator | str:
    """Return the configured emulator, or the reason it cannot be built."""
    try:
        world = load_world(args.config) if args.config else demo_world()
        return Emulator(
            args.data, world, host=args.host, api_port=args.port, s3_port=args.s3_port,
            faults=initial_faults(args), discard=args.discard, url_host=args.url_host,
            autosave_seconds=AUTOSAVE_SECONDS,
        )  # fmt: skip
    except (WorldError, FaultConfigError) as exc:
        return str(exc)


def start(emulator: Emulator) -> str | None:
    """Start the emulator; return why it failed, or None."""
    try:
        emulator.start()
    except OSError as exc:
        return f"cannot start the emulator: {exc}"
    return None


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; return the exit code."""
    emulator = build(args)
    if isinstance(emulator, str):
        log.error("%s", emulator)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("received signal %d, stopping", signum)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    problem = start(emulator)
    if problem is not None:
        log.error("%s", problem)
        return 1
    try:
        print(f"Flow Capture API: {emulator.api_url}", flush=True)
        print(f"S3 object store: {emulator.s3_url}", flush=True)
        if args.config is None:
            for email, api_key, what in DEMO_CREDENTIALS:
                print(f"Demo credentials: email {email}, api key {api_key}{what}", flush=True)
        while not stop.wait(1.0):
            pass
    finally:
        emulator.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
