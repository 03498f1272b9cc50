"""The comment endpoints: list, create, update, delete; replies nest freely."""

from __future__ import annotations

import logging
from typing import Any

from watchd.emulator import params, wire
from watchd.emulator.access import visible_asset
from watchd.emulator.context import Context
from watchd.emulator.errors import bad_param, forbidden, not_found
from watchd.emulator.records import CommentRecord
from watchd.emulator.world import User

log = logging.getLogger(__name__)


def get_comments(ctx: Context, user: User, body: dict[str, Any]) -> list[dict[str, Any]]:
    """``/get/comments``: an asset's comments, earliest first."""
    asset = visible_asset(ctx, user, params.asset_ref(body, "asset_id"))
    with ctx.state.lock:
        found = [c for c in ctx.state.comments.values() if c.asset_id == asset.id]
        return [wire.comment_json(c) for c in sorted(found, key=lambda c: (c.created_at, c.id))]


def _color(body: dict[str, Any], default: str) -> str:
    color = params.opt_str(body, "color", default) or default
    if not wire.COLOR_RE.match(color):
        raise bad_param("color", "must look like #ff00ee")
    return color.lower()


def _reply_parent(ctx: Context, body: dict[str, Any], asset_id: int) -> int | None:
    if not params.opt_bool(body, "is_reply"):
        return None
    parent_id = params.opt_int(body, "parent_comment_id")
    if parent_id is None:
        raise bad_param("parent_comment_id", "is required when is_reply is true")
    parent = ctx.state.comments.get(parent_id)
    if parent is None or parent.asset_id != asset_id:
        raise not_found("parent comment", parent_id)
    return parent_id


def create_comment(ctx: Context, user: User, body: dict[str, Any]) -> dict[str, Any]:
    """``/create/comment``: add a comment (or a reply) to an asset."""
    asset = visible_asset(ctx, user, params.asset_ref(body, "asset_id"))
    kind = params.opt_str(body, "type", "COMMENT") or "COMMENT"
    if kind not in wire.COMMENT_TYPES:
        raise bad_param("type", f"must be one of {', '.join(wire.COMMENT_TYPES)}")
    with ctx.state.lock:
        parent_id = _reply_parent(ctx, body, asset.id)
        comment = CommentRecord(
            id=ctx.state.next_id("comment"),
            asset_id=asset.id,
            project_id=asset.project_id,
            description=params.req_str(body, "description"),
            color=_color(body, wire.DEFAULT_COMMENT_COLOR),
            has_marker=params.opt_bool(body, "has_marker"),
            marker_time=params.opt_float(body, "marker_time"),
            has_drawing=params.opt_bool(body, "has_drawing"),
            is_reply=parent_id is not None,
            parent_id=parent_id,
            type=kind,
            author_email=user.email,
            user_first_name=user.first_name,
            user_last_name=user.last_name,
            created_at=ctx.clock(),
        )
        ctx.state.comments[comment.id] = comment
        _refresh_has_reply(ctx, parent_id)
    log.info("comment %s added to asset %s", comment.id, asset.id)
    return wire.comment_json(comment)


def _own_comment(ctx: Context, user: User, body: dict[str, Any]) -> CommentRecord:
    comment_id = params.req_int(body, "id")
    comment = ctx.state.comments.get(comment_id)
    if comment is None:
        raise not_found("comment", comment_id)
    visible_asset(ctx, user, comment.asset_id)
    if comment.author_email != user.email:
        raise forbidden("only the author may change a comment")
    return comment


def update_comment(ctx: Context, user: User, body: dict[str, Any]) -> dict[str, Any]:
    """``/update/comment``: change the given fields of the user's own comment."""
    with ctx.state.lock:
        comment = _own_comment(ctx, user, body)
        if "description" in body:
            comment.description = params.req_str(body, "description")
        comment.color = _color(body, comment.color)
        comment.has_marker = params.opt_bool(body, "has_marker", comment.has_marker)
        default_time = comment.marker_time if comment.has_marker else 0.0  # a marker removed
        comment.marker_time = params.opt_float(body, "marker_time", default_time)
        comment.has_drawing = params.opt_bool(body, "has_drawing", comment.has_drawing)
        if "is_reply" in body:
            old_parent = comment.parent_id
            new_parent = _reply_parent(ctx, body, comment.asset_id)
            if _descends_from(ctx, new_parent, comment.id):
                raise bad_param("parent_comment_id", "a comment cannot reply to itself or a reply")
            comment.parent_id, comment.is_reply = new_parent, new_parent is not None
            _refresh_has_reply(ctx, old_parent)
            _refresh_has_reply(ctx, new_parent)
        return wire.comment_json(comment)


def _descends_from(ctx: Context, start: int | None, ancestor: int) -> bool:
    """Return True when comment ``start`` is ``ancestor`` or one of its replies."""
    seen: set[int] = set()
    while start is not None and start not in seen:
        if start == ancestor:
            return True
        seen.add(start)
        parent = ctx.state.comments.get(start)
        start = parent.parent_id if parent is not None else None
    return False


def delete_comment(ctx: Context, user: User, body: dict[str, Any]) -> dict[str, Any]:
    """``/delete/comment``: remove the user's own comment and its replies."""
    with ctx.state.lock:
        comment = _own_comment(ctx, user, body)
        doomed = [comment.id]
        for ident in doomed:  # grows while walking: replies of replies
            doomed.extend(
                c.id
                for c in ctx.state.comments.values()
                if c.parent_id == ident and c.id not in doomed
            )
        for ident in doomed:
            del ctx.state.comments[ident]
        _refresh_has_reply(ctx, comment.parent_id)
    log.info("comment %s deleted with %d repl(ies)", comment.id, len(doomed) - 1)
    return {"deleted": True}


def _refresh_has_reply(ctx: Context, comment_id: int | None) -> None:
    parent = ctx.state.comments.get(comment_id) if comment_id is not None else None
    if parent is not None:
        parent.has_reply = any(c.parent_id == parent.id for c in ctx.state.comments.values())
