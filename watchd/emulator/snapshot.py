"""The ``/_emulator/state`` document: everything tests want to assert on,
and no secrets (no API keys, tokens or URL signatures)."""

from __future__ import annotations

from typing import Any

from watchd.emulator import wire
from watchd.emulator.context import Context
from watchd.emulator.objects import PartInfo
from watchd.emulator.records import UPLOAD_INGESTING, UploadRecord, to_dict
from watchd.emulator.s3_xml import quoted
from watchd.emulator.world import World


def snapshot(ctx: Context) -> dict[str, Any]:
    """Return the emulator's state as a JSON-ready dict."""
    open_parts = {u.upload_id: u.parts for u in ctx.store.uploads()}
    with ctx.state.lock:
        api_state = _api_state(ctx, open_parts)
    return {
        **_world(ctx.world),
        **api_state,
        "objects": [
            {
                "bucket": o.bucket,
                "key": o.key,
                "size": o.size,
                "etag": quoted(o.etag),
                "stored": o.stored,
            }
            for b in ctx.store.buckets()
            for o in ctx.store.list_objects(b)
        ],
        "faults": ctx.faults.current(),
    }


def _world(world: World) -> dict[str, Any]:
    return {
        "users": [
            {
                "email": u.email,
                "first_name": u.first_name,
                "last_name": u.last_name,
                "project_id": u.project_id,
            }
            for u in world.users.values()
        ],
        "productions": [
            {
                "id": p.id,
                "name": p.name,
                "folders": [
                    {"id": f.id, "name": f.name, "parent_project_id": f.parent_id, "path": f.path}
                    for f in sorted(world.folders.values(), key=lambda f: f.id)
                    if f.production_id == p.id
                ],
            }
            for p in sorted(world.productions.values(), key=lambda p: p.id)
        ],
    }


def _api_state(ctx: Context, open_parts: dict[str, dict[int, PartInfo]]) -> dict[str, Any]:
    """Return the API state part of the snapshot; the caller holds the state lock."""
    now = ctx.clock()
    state = ctx.state
    return {
        "uploads": [
            _upload(u, open_parts.get(u.upload_id, {}), ctx, now) for u in state.uploads.values()
        ],
        "complete_upload_calls": [
            {**to_dict(c), "time": wire.iso_time(c.time)} for c in state.calls
        ],
        "batches": _batches(ctx),
        "assets": [
            {
                **wire.asset_json(a),
                "etag": quoted(a.etag),
                "visible": a.visible(now),
                "owner": a.owner_email,
            }
            for a in sorted(state.assets.values(), key=lambda a: a.id)
        ],
        "comments": [
            wire.comment_json(c) for c in sorted(state.comments.values(), key=lambda c: c.id)
        ],
        "download_tasks": [
            {k: v for k, v in to_dict(t).items() if k != "user_email"} for t in state.tasks.values()
        ],
        "requests": dict(state.requests),
        "part_puts": {
            k: {str(n): c for n, c in sorted(v.items())} for k, v in state.part_puts.items()
        },
        "active_tokens": len(state.tokens),
    }


def _upload(
    u: UploadRecord, parts: dict[int, PartInfo], ctx: Context, now: float
) -> dict[str, Any]:
    state = u.state
    if state == UPLOAD_INGESTING and u.asset_id is not None:
        asset = ctx.state.assets.get(u.asset_id)
        if asset is not None and asset.visible(now):
            state = "ingested"
    return {
        "upload_id": u.upload_id,
        "key": u.key,
        "filename": u.filename,
        "project_id": u.project_id,
        "project_id_sent": u.project_id_sent,
        "uuid": u.uuid,
        "user": u.user_email,
        "state": state,
        "asset_id": u.asset_id,
        "batch_name": u.batch_name,
        "parts": [
            {"part_number": n, "size": p.size, "etag": quoted(p.etag)}
            for n, p in sorted(parts.items())
        ],
    }


def _batches(ctx: Context) -> list[dict[str, Any]]:
    """Group accepted /complete/upload calls by (project, batch name)."""
    groups: dict[tuple[int, str], dict[str, Any]] = {}
    for call in ctx.state.calls:
        group = groups.setdefault(
            (call.project_id, call.batch_name),
            {
                "project_id": call.project_id,
                "batch_name": call.batch_name,
                "keys": [],
                "asset_ids": [],
            },
        )
        for key in call.keys:
            if key in group["keys"]:
                continue
            group["keys"].append(key)
            upload = ctx.state.upload_by_key(key)
            if upload is not None and upload.asset_id is not None:
                group["asset_ids"].append(upload.asset_id)
    return list(groups.values())
