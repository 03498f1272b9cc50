"""The download endpoints: file categories, download tasks and their progress."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from watchd.emulator import params, proxies, wire
from watchd.emulator.access import visible_asset
from watchd.emulator.context import Context
from watchd.emulator.errors import EmulatorError, bad_param, not_found
from watchd.emulator.records import AssetRecord, DownloadTask
from watchd.emulator.world import User

log = logging.getLogger(__name__)


def _asset_refs(body: dict[str, Any]) -> list[int | str]:
    if body.get("playlink_id") is not None and body.get("assets") is None:
        raise bad_param("playlink_id", "is not supported by the emulator; pass 'assets'")
    return [params.asset_ref({"assets": v}, "assets") for v in params.req_list(body, "assets")]


def file_categories(ctx: Context, user: User, body: dict[str, Any]) -> dict[str, Any]:
    """``/get/asset/file/categories``: the categories and sizes of some assets."""
    assets = [visible_asset(ctx, user, ref) for ref in _asset_refs(body)]
    counts: Counter[str] = Counter()
    clean_sizes: Counter[str] = Counter()
    marked_sizes: Counter[str] = Counter()
    marked_counts: Counter[str] = Counter()
    for asset in assets:
        for cat in proxies.CATEGORIES:
            counts[cat] += 1
            clean_sizes[cat] += proxies.file_size(asset.size, cat, True)
            marked_sizes[cat] += proxies.file_size(asset.size, cat, False)
            marked_counts[cat] += int(proxies.is_watermarked(cat, False))
    allowed = all(ctx.world.can_download_non_watermarked(user.email, a.project_id) for a in assets)
    return {
        "file_category": list(proxies.CATEGORIES),
        "file_count": dict(counts),
        "group": dict(proxies.GROUPS),
        "non_watermarked": allowed,
        "non_watermarked_file_sizes": dict(clean_sizes),
        "sort_order": dict(proxies.SORT_ORDER),
        "watermarked_count": {c: marked_counts[c] for c in proxies.CATEGORIES},
        "watermarked_file_sizes": dict(marked_sizes),
    }


def download_direct(ctx: Context, user: User, body: dict[str, Any]) -> dict[str, Any]:
    """``/download/assets/direct``: start a task per asset and category."""
    refs = _asset_refs(body)
    wanted = params.str_list(body, "file_categories") if "file_categories" in body else None
    clean = params.opt_bool(body, "non_watermarked")
    errors: list[dict[str, Any]] = []
    started: list[dict[str, Any]] = []
    for ref in refs:
        try:
            asset = visible_asset(ctx, user, ref)
            if clean and not ctx.world.can_download_non_watermarked(user.email, asset.project_id):
                raise EmulatorError(403, "Forbidden", "Permissions error: non-watermarked download")
        except EmulatorError as exc:
            errors.append({"asset_id": ref, "error_message": exc.message})
            continue
        for category in wanted or list(proxies.CATEGORIES):
            try:
                started.append(_start_task(ctx, user, asset, category, clean))
            except EmulatorError as exc:
                errors.append({"asset_id": asset.id, "error_message": exc.message})
    return {"errors": errors, "successful_processes": started}


def _start_task(
    ctx: Context, user: User, asset: AssetRecord, category: str, clean: bool
) -> dict[str, Any]:
    if category not in proxies.CATEGORIES:
        raise EmulatorError(404, "NotFound", f"category {category} is not available")
    bucket, key = _prepared_file(ctx, asset, category, clean)
    now = ctx.clock()
    delay = 0.0 if category == proxies.ORIGINAL else float(ctx.faults.get("download_processing_s"))
    task = DownloadTask(
        task_id=str(ctx.state.next_id("task")),
        asset_id=asset.id,
        category=category,
        non_watermarked=clean,
        bucket=bucket,
        key=key,
        filename=proxies.file_name(asset.name, category),
        user_email=user.email,
        started_at=now,
        ready_at=now + delay,
    )
    with ctx.state.lock:
        ctx.state.tasks[task.task_id] = task
    ready = delay <= 0
    return {
        "asset_id": asset.id,
        "filename": task.filename,
        "path": ctx.world.folders[asset.project_id].path,
        "processing": not ready,
        "task_id": task.task_id,
        "url": _url(ctx, task) if ready else "",
    }


def _prepared_file(ctx: Context, asset: AssetRecord, category: str, clean: bool) -> tuple[str, str]:
    """Return where the category's bytes live, generating a proxy on first use."""
    original = ctx.store.head(asset.bucket, asset.key)
    if category == proxies.ORIGINAL:
        return asset.bucket, asset.key
    variant = "clean" if clean else "watermarked"
    key = f"proxies/{asset.id}/{category}/{variant}/{proxies.file_name(asset.name, category)}"
    try:
        ctx.store.head(wire.MEDIA_BUCKET, key)
    except EmulatorError:
        with ctx.store.open(original) as source:
            ctx.store.write_derived(wire.MEDIA_BUCKET, key, proxies.derive(source, category, clean))
        log.info("generated %s proxy of asset %s", category, asset.id)
    return wire.MEDIA_BUCKET, key


def _url(ctx: Context, task: DownloadTask) -> str:
    lifetime = float(ctx.faults.get("url_lifetime_s"))
    return ctx.signer.presign("GET", ctx.s3_base_url, task.bucket, task.key, {}, lifetime)


def tasks_messages(ctx: Context, user: User, body: dict[str, Any]) -> list[dict[str, Any]]:
    """``/get/tasks/messages`` (or ``/message``): download tasks' progress, URL once ready."""
    ids = [str(v) for v in params.req_list(body, "task_ids")]
    now = ctx.clock()
    with ctx.state.lock:
        tasks = [ctx.state.tasks.get(i) for i in ids]
    messages = []
    for ident, task in zip(ids, tasks, strict=True):
        if task is None or task.user_email != user.email:
            raise not_found("task", ident)
        if now >= task.ready_at:
            message = {"progress": "100%", "direct_url": _url(ctx, task)}
        else:
            done = (now - task.started_at) / (task.ready_at - task.started_at)
            message = {"progress": f"{min(99, int(done * 100))}%", "direct_url": ""}
        messages.append({"task_id": task.task_id, "message": message})
    return messages
