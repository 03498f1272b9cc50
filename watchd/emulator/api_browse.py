"""Endpoints for authentication, browsing the hierarchy and asset metadata."""

from __future__ import annotations

import logging
from typing import Any

from watchd.emulator import params, wire
from watchd.emulator.access import viewable_folder
from watchd.emulator.context import Context
from watchd.emulator.errors import EmulatorError, forbidden, not_found
from watchd.emulator.records import UPLOAD_INGESTING
from watchd.emulator.world import User

log = logging.getLogger(__name__)

_RESERVED_ASSET_KEYS = {"id", "tags", wire.TOKEN_BODY_KEY}


def authenticate(ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
    """``/authenticate/api``: exchange email and API key for a token (and, for a key
    tied to a folder, that folder's ``project_id``)."""
    email = params.req_str(body, "email")
    api_key = params.req_str(body, "api_key")
    user = ctx.world.authenticate(email, api_key)
    if user is None:
        log.info("authentication refused for %s", email)
        raise EmulatorError(401, "InvalidCredentials", "email or api_key is wrong")
    log.info("authenticated %s", user.email)
    answer: dict[str, Any] = {
        "token": ctx.state.issue_token(user.email),
        "user": {"email": user.email, "first_name": user.first_name, "last_name": user.last_name},
    }
    if user.project_id is not None:  # a key tied to a folder: the document's project_id
        answer["project_id"] = user.project_id
    return answer


def get_groups(ctx: Context, user: User, body: dict[str, Any]) -> list[dict[str, Any]]:
    """``/get/groups``: the productions the user can see."""
    return [{"id": p.id, "name": p.name} for p in ctx.world.visible_productions(user.email)]


def get_projects(ctx: Context, user: User, body: dict[str, Any]) -> list[dict[str, Any]]:
    """``/get/projects``: the folders the user can see, optionally of one production."""
    group_id = params.opt_int(body, "group_id")
    if group_id is not None:
        if group_id not in ctx.world.productions:
            raise not_found("group", group_id)
        if all(p.id != group_id for p in ctx.world.visible_productions(user.email)):
            raise forbidden(f"no access to group {group_id}")
    return [
        {
            "id": f.id,
            "name": f.name,
            "group_id": f.production_id,
            "parent_project_id": f.parent_id,
        }
        for f in ctx.world.visible_folders(user.email, group_id)
    ]


def get_assets(ctx: Context, user: User, body: dict[str, Any]) -> list[dict[str, Any]]:
    """``/get/assets``: the ingested assets of one folder, oldest first."""
    folder = viewable_folder(ctx, user, params.req_int(body, "project_id"))
    now = ctx.clock()
    with ctx.state.lock:
        assets = [
            wire.asset_json(a)
            for a in sorted(ctx.state.assets.values(), key=lambda a: a.id)
            if a.project_id == folder.id and a.visible(now)
        ]
    return assets


def update_asset(ctx: Context, user: User, body: dict[str, Any]) -> dict[str, Any]:
    """``/update/asset``: replace the tags and apply the other keys to the metadata.

    Under ``update_asset_metadata: merge`` (default) the keys given are set and
    the others kept; under ``replace`` the keys given become the whole metadata.
    Either way a key sent as null is cleared, and ``tags: []`` clears the tags.
    """
    ref = params.asset_ref(body, "id")
    tags = body.get("tags")
    if tags is not None and (
        not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)
    ):
        raise EmulatorError(400, "InvalidParameter", "parameter 'tags' must be a list of strings")
    given = {k: v for k, v in body.items() if k not in _RESERVED_ASSET_KEYS}
    with ctx.state.lock:
        asset = ctx.state.find_asset(ref)
        upload = ctx.state.upload_by_key(asset.key) if asset else None
        if asset is None or (upload is not None and upload.state != UPLOAD_INGESTING):
            raise not_found("asset", ref)
        if not ctx.world.can_upload(user.email, asset.project_id):
            raise forbidden(f"no rights to change asset {ref}")
        if tags is not None:
            asset.tags = list(tags)
        asset.metadata = _applied(asset.metadata, given, ctx.faults.get("update_asset_metadata"))
    log.info("asset %s updated (%d tags)", asset.id, len(asset.tags))
    return {"updated": True}


def _applied(current: dict[str, Any], given: dict[str, Any], mode: str) -> dict[str, Any]:
    """Return the metadata after an update: merged into or replacing ``current``."""
    result = dict(current) if mode == "merge" else {}
    result.update(given)
    return {k: v for k, v in result.items() if v is not None}
