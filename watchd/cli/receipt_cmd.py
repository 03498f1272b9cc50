"""`watchd receipt BATCH`: what a batch uploaded, with its hashes and asset ids."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from watchd.base.names import printable
from watchd.cli.config_path import add_config_argument
from watchd.cli.store_access import run_listing
from watchd.ingest.policy import UPLOAD_FOLDER_PREFIX
from watchd.store.models import ACTIVE_JOB_STATES, Batch, BatchState, FileHash, Job, Receipt


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "receipt",
        help="what a batch uploaded: files, hashes, asset ids, its ASC MHL receipt",
        description="Show what a batch uploaded to Flow Capture: each file with its size, "
        "hashes (checked against its ASC MHL offload history where one covered it) and "
        "asset id, and where the batch's receipt was written.",
    )
    add_config_argument(parser)
    parser.add_argument("batch", help="batch id, or name (the newest batch of that name)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return run_listing(
        args,
        "receipt",
        lambda session: batch_receipt(session, args.batch),
        render,
        none_found=lambda _config: f"no batch {args.batch!r} (`watchd batches` lists them)",
    )


def batch_receipt(session: Session, spec: str) -> list[dict[str, Any]]:
    """Return the batch named by ``spec`` as one row (an empty list if there is none)."""
    query = select(Batch).order_by(Batch.id.desc()).limit(1)
    query = (
        query.where(Batch.id == int(spec)) if spec.isdigit() else query.where(Batch.name == spec)
    )
    batch = session.scalars(query).first()
    if batch is None:
        return []
    namesakes = session.scalars(  # older batches of the same name (a later day, a rerun)
        select(Batch.id).where(Batch.name == batch.name, Batch.id != batch.id).order_by(Batch.id)
    ).all()
    receipt = session.get(Receipt, batch.id)
    rows = session.execute(
        select(Job, FileHash)
        .outerjoin(FileHash, FileHash.job_id == Job.id)
        .where(Job.batch_id == batch.id)
        .order_by(Job.relpath)
    ).all()
    files = [
        {
            "path": job.relpath,
            "state": job.state.value,
            "size": job.size,
            "asset_id": job.asset_id,
            "hashes": json.loads(fh.hashes) if fh else {},
            "verified": fh.verified_format if fh else None,
            "last_error": job.last_error if job.state.value == "failed" else None,
        }
        for job, fh in rows
    ]
    return [
        {
            "batch": {"id": batch.id, "name": batch.name, "folder": batch.folder},
            "same_name": list(namesakes),
            "state": batch.state.value,
            "flowcapture_folder_id": batch.project_id,
            "receipt": (
                {
                    "state": receipt.state,
                    "manifests": (receipt.manifests or "").splitlines(),
                    "sidecar": receipt.sidecar,
                    "warnings": (receipt.detail or "").splitlines(),
                }
                if receipt
                else None
            ),
            "files": files,
            "receipt_note": None if receipt else _why_no_receipt(batch, [(j, h) for j, h in rows]),
        }
    ]


def _why_no_receipt(batch: Batch, rows: Sequence[tuple[Job, FileHash | None]]) -> str:
    """Say why ``batch`` has no receipt (yet)."""
    if batch.folder.startswith(UPLOAD_FOLDER_PREFIX):
        return "none: receipts are written by the daemon, for its drop folders' batches"
    if not any(fh is not None for _job, fh in rows):
        return (
            "none: no file of this batch was checked against an ASC MHL offload history "
            "(receipts are for camera cards; README, Checksums and receipts)"
        )
    if batch.state != BatchState.CLOSED or any(j.state in ACTIVE_JOB_STATES for j, _ in rows):
        return "not written yet (written once the batch is closed and every file is final)"
    return "not written yet (due: the running daemon writes it within seconds)"


def render(rows: list[dict[str, Any]]) -> str:
    (row,) = rows
    batch = row["batch"]
    lines = [
        f"batch {batch['id']} {batch['name']!r} (folder {batch['folder']}, {row['state']}) "
        f"into Flow Capture folder {row['flowcapture_folder_id']}"
    ]
    if row["same_name"]:
        ids = ", ".join(map(str, row["same_name"]))
        lines.append(f"  (other batches named {batch['name']!r}: {ids}; `watchd receipt ID`)")
    for f in row["files"]:
        hashes = " ".join(f"{k}={v}" for k, v in sorted(f["hashes"].items())) or "not hashed"
        check = f"verified {f['verified']}" if f["verified"] else "unchecked"
        lines.append(
            f"  {f['state']:<9} {printable(f['path'])}  size={f['size']} asset={f['asset_id']} "
            f"{check} {hashes}"
        )
        if f["last_error"]:
            lines.append(f"            {printable(f['last_error'])}")
    receipt = row["receipt"]
    if receipt is None:
        lines.append(f"receipt: {row['receipt_note']}")
    else:
        lines.append(f"receipt: {receipt['state']}")
        lines += [f"  manifest: {printable(m)}" for m in receipt["manifests"]]
        if receipt["sidecar"]:
            lines.append(f"  asset ids: {receipt['sidecar']}")
        lines += [f"  warning: {printable(w)}" for w in receipt["warnings"]]
    return "\n".join(lines)
