"""`watchd demo`: start the emulator and show one file going through the client.

Until the daemon lands this runs one upload by hand, step by step, printing
what happens, then keeps the emulator up so the user can look around.
"""

from __future__ import annotations

import argparse
import os
import threading
import uuid
from pathlib import Path

from watchd.emulator import Emulator
from watchd.flowcapture.client import FlowCaptureClient
from watchd.flowcapture.upload import upload_file

DEMO_EMAIL = "demo@example.com"
DEMO_API_KEY = "demo-api-key"  # the emulator's built-in demo user; not a real secret
DEMO_FOLDER_PATH = ("Demo Production", "Dailies")
SAMPLE_BYTES = 12 * 1024 * 1024  # three 5 MiB parts (the last one short)
ASSET_WAIT_SECONDS = 30.0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="start the local emulator and upload a sample file into it",
        description="Start the Flow Capture emulator on this machine, upload a sample file "
        "through the client, and keep the emulator running until Ctrl-C.",
    )
    parser.add_argument("--dir", type=Path, default=Path("watchd-demo"), help="demo folder")
    parser.add_argument("--port", type=int, default=8700, help="API port (0 = any free port)")
    parser.add_argument("--s3-port", type=int, default=8701, help="object store port")
    parser.add_argument("--once", action="store_true", help="exit after the upload")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    base: Path = args.dir.resolve()
    drop = base / "drop"
    drop.mkdir(parents=True, exist_ok=True)
    emulator = Emulator(
        data_dir=base / "emulator",
        api_port=args.port,
        s3_port=args.s3_port,
        faults={"processing_delay_s": 1.0},
    )
    emulator.start()
    try:
        print(f"Flow Capture emulator: API {emulator.api_url}, object store {emulator.s3_url}")
        _upload_sample(emulator.api_url, drop)
        if not args.once:
            print("\nThe emulator keeps running; browse it with, for example:")
            print(f"  curl -s {emulator.api_url}/_emulator/state | python3 -m json.tool")
            print("Press Ctrl-C to stop.")
            threading.Event().wait()
    except KeyboardInterrupt:
        print("\nStopping.")
    finally:
        emulator.stop()
    return 0


def _upload_sample(api_url: str, drop: Path) -> None:
    sample = drop / "A001_C002_0101AB.mov"
    if not sample.exists():
        sample.write_bytes(os.urandom(SAMPLE_BYTES))
    print(f"Sample file: {sample} ({sample.stat().st_size} bytes)")
    with FlowCaptureClient(DEMO_EMAIL, DEMO_API_KEY, api_url) as client:
        folder_id = _find_folder(client, *DEMO_FOLDER_PATH)
        print(f"Uploading into '{'/'.join(DEMO_FOLDER_PATH)}' (project_id {folder_id}) ...")
        asset_uuid = str(uuid.uuid4())
        result = upload_file(
            client,
            sample,
            project_id=folder_id,
            uuid=asset_uuid,
            batch_name="Demo batch",
            part_size=5 * 1024 * 1024,
        )
        print(f"  {len(result.etags)} parts sent; asset_id {result.asset_id}, uuid {asset_uuid}")
        client.complete_upload(folder_id, [result.upload.key], batch_name="Demo batch")
        print("  /complete/upload accepted; waiting for ingest ...")
        asset = _wait_for_asset(client, folder_id, asset_uuid)
        print(f"  asset {asset} is in Flow Capture, batch 'Demo batch'.")
        client.update_asset(asset_uuid, tags=["demo"], metadata={"camera": "A"})
        print("  tagged 'demo', camera=A.")


def _find_folder(client: FlowCaptureClient, production: str, folder: str) -> int:
    group = next(g for g in client.get_groups() if g.name == production)
    return next(f.id for f in client.get_projects(group.id) if f.name == folder)


def _wait_for_asset(client: FlowCaptureClient, folder_id: int, asset_uuid: str) -> str:
    done = threading.Event()
    waited = 0.0
    while waited < ASSET_WAIT_SECONDS:
        for asset in client.get_assets(folder_id):
            if asset.uuid == asset_uuid:
                return f"{asset.name} (id {asset.id})"
        done.wait(0.5)
        waited += 0.5
    raise SystemExit(f"the asset did not appear within {ASSET_WAIT_SECONDS:.0f}s")
