"""Permission checks shared by the endpoints: 404 for unknown objects, 403 for
objects the user may not see or change."""

from __future__ import annotations

from watchd.emulator.context import Context
from watchd.emulator.errors import forbidden, not_found
from watchd.emulator.records import AssetRecord
from watchd.emulator.world import Folder, User


def viewable_folder(ctx: Context, user: User, project_id: int) -> Folder:
    """Return a folder the user may view. Raises EmulatorError 404/403."""
    folder = ctx.world.folders.get(project_id)
    if folder is None:
        raise not_found("project", project_id)
    if not ctx.world.can_view(user.email, project_id):
        raise forbidden(f"no access to project {project_id}")
    return folder


def uploadable_folder(ctx: Context, user: User, project_id: int) -> Folder:
    """Return a folder the user may upload into. Raises EmulatorError 404/403."""
    folder = viewable_folder(ctx, user, project_id)
    if not ctx.world.can_upload(user.email, project_id):
        raise forbidden(f"no upload rights on project {project_id}")
    return folder


def visible_asset(ctx: Context, user: User, ref: int | str) -> AssetRecord:
    """Return an ingested asset the user may view. Raises EmulatorError 404/403."""
    asset = ctx.state.find_asset(ref)
    if asset is None or not asset.visible(ctx.clock()):
        raise not_found("asset", ref)
    if not ctx.world.can_view(user.email, asset.project_id):
        raise forbidden(f"no access to asset {ref}")
    return asset
