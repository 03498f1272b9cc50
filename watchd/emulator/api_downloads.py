"""The download endpoints: file categories, download tasks and their progress."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from watchd.emulator import params, proxies, wire
from watchd.emulator.access import visible_asset
from watchd.emulator.context import Context
from watchd.emulator.errors import EmulatorError, not_found
from watchd.emulator.records import AssetRecord, DownloadTask
from watchd.emulator.world import User

log = logging.getLogger(__name__)


def _asset_refs(body: dict[str, Any]) -> list[int | str]:
    return [params.asset_ref({"assets": v}, "assets") for v in params.req_list(body, "assets")]


def _category_refs(ctx: Context, body: dict[str, Any]) -> list[int | str]:
    """The assets of the categories call: ``assets``, or those of a review link."""
    playlink_id = params.opt_int(body, "playlink_id")
    if playlink_id is None or body.get("assets") is not None:
        return _asset_refs(body)
    with ctx.state.lock:
        assets = ctx.state.playlinks.get(playlink_id)
    if assets is None:
        raise not_found("playlink", playlink_id)
    return list(assets)


def file_categories(ctx: Context, user: User, body: dict[str, Any]) -> dict[str, Any]:
    """``/get/asset/file/categories``: the categories and sizes of some assets (or a playlink)."""
    assets = [visible_asset(ctx, user, ref) for ref in _category_refs(ctx, body)]
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
                started.extend(_start_tasks(ctx, user, asset, category, clean))
            except EmulatorError as exc:
                errors.append({"asset_id": asset.id, "error_message": exc.message})
    return {"errors": errors, "successful_processes": started}


def _start_tasks(
    ctx: Context, user: User, asset: AssetRecord, category: str, clean: bool
) -> list[dict[str, Any]]:
    if category not in proxies.CATEGORIES:
        raise EmulatorError(404, "NotFound", f"category {category} is not available")
    if category != proxies.ORIGINAL:
        bucket, key = _prepared_file(ctx, asset, category, clean)
        name = proxies.file_name(asset.name, category)
        delay = float(ctx.faults.get("download_processing_s"))
        return [_start_task(ctx, user, asset, category, clean, (bucket, key, name), name, delay)]
    ctx.store.head(asset.bucket, asset.key)
    with_sidecar = ctx.faults.get("original_files") == "with_sidecar"
    clip, *rest = proxies.original_paths(asset.name, with_sidecar)
    started = [
        _start_task(
            ctx, user, asset, category, clean, (asset.bucket, asset.key, asset.name), clip, 0.0
        )
    ]
    for path in rest:
        name = proxies.sidecar_name(asset.name)
        key = f"sidecars/{asset.id}/{name}"
        ctx.store.write_derived(
            wire.MEDIA_BUCKET, key, iter([proxies.sidecar_bytes(asset.id, asset.name, asset.size)])
        )
        started.append(
            _start_task(
                ctx, user, asset, category, clean, (wire.MEDIA_BUCKET, key, name), path, 0.0
            )
        )
    return started


def _start_task(
    ctx: Context,
    user: User,
    asset: AssetRecord,
    category: str,
    clean: bool,
    where: tuple[str, str, str],
    path: str,
    delay: float,
) -> dict[str, Any]:
    """Record a task for one file (bucket, key, file name); return its wire form."""
    bucket, key, filename = where
    now = ctx.clock()
    task = DownloadTask(
        task_id=str(ctx.state.next_id("task")),
        asset_id=asset.id,
        category=category,
        non_watermarked=clean,
        bucket=bucket,
        key=key,
        filename=filename,
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
        "path": path,
        "processing": not ready,
        "task_id": task.task_id,
        "url": _url(ctx, task) if ready else "",
    }


def _prepared_file(ctx: Context, asset: AssetRecord, category: str, clean: bool) -> tuple[str, str]:
    """Return where the category's bytes live, generating a proxy on first use."""
    original = ctx.store.head(asset.bucket, asset.key)
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
