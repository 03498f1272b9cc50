"""The emulator's guesses about the Flow Capture wire format, kept in one place.

The vendor document names endpoints and fields but not the envelope; see
``API-NOTES.md``. Everything here is a choice that can be corrected in one
module when the full vendor reference is at hand:

- requests are POST (GET accepted) with JSON ``{"data": {...}}``; parameters
  at the top level are accepted when there is no ``data`` key;
- the token travels in the ``X-Token`` header, or as ``token`` in the body;
- tokens are 64 upper-case hex characters;
- responses are bare JSON; errors are ``{"error": {"code", "message"}}``;
- ids are integers (digit strings are accepted); download task ids are
  digit strings (the document says String in one place and Id in another);
- ``/update/asset`` needs upload rights and works once ``/complete/upload``
  has accepted the asset, even while it is still processing (a guess);
- ``/upload/asset/complete`` rejects uploaded parts that its ``etags`` list
  leaves out (real S3 would drop them silently; strictness catches bugs).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import Any

from watchd.emulator.errors import EmulatorError
from watchd.emulator.records import AssetRecord, CommentRecord

TOKEN_HEADER = "X-Token"
TOKEN_BODY_KEY = "token"
DEFAULT_BATCH_NAME = "Untitled Batch"
COMMENT_TYPES = ("COMMENT", "IO_POINT")
DEFAULT_COMMENT_COLOR = "#ffffff"
INGEST_BUCKET = "flowcapture-ingest"  # bucket of uploaded originals
MEDIA_BUCKET = "flowcapture-media"  # bucket of generated proxies
MAX_JSON_BODY_BYTES = 8 * 1024 * 1024  # a JSON request larger than this is refused
# The document spells the task endpoint both ways; the emulator serves the one the
# ``tasks_path`` setting names and answers 404 UnknownEndpoint on the other.
TASKS_PATHS = {"messages": "/get/tasks/messages", "message": "/get/tasks/message"}
# The document's result booleans, by endpoint; a fault rule can make them false.
RESULT_FLAGS = {"/complete/upload": "ok", "/update/asset": "updated", "/delete/comment": "deleted"}

UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
_UNSAFE_KEY_CHARS = re.compile(r"[^A-Za-z0-9._-]")


def new_token() -> str:
    """Return a fresh token: 64 upper-case hex characters."""
    return secrets.token_hex(32).upper()


def new_upload_key(filename: str) -> str:
    """Return an opaque upload key; it also names the object in the ingest bucket."""
    safe = _UNSAFE_KEY_CHARS.sub("_", filename)[:120] or "file"
    return f"ingest/{secrets.token_hex(12)}/{safe}"


def parse_body(raw: bytes) -> tuple[dict[str, Any], str | None]:
    """Return ``(params, token_in_body)`` from a request body.

    Raises:
        EmulatorError: 400 when the body is not a JSON object.
    """
    if not raw.strip():
        return {}, None
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EmulatorError(400, "InvalidJSON", f"request body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise EmulatorError(400, "InvalidJSON", "request body must be a JSON object")
    token = body.get(TOKEN_BODY_KEY)
    token = token if isinstance(token, str) else None
    data = body.get("data")
    if isinstance(data, dict):
        return data, token
    if data is not None:
        raise EmulatorError(400, "InvalidJSON", "'data' must be a JSON object")
    return {k: v for k, v in body.items() if k != TOKEN_BODY_KEY}, token


def encode_json(value: object) -> bytes:
    """Return the response body for ``value``."""
    return json.dumps(value, separators=(",", ":")).encode()


def error_body(code: str, message: str) -> dict[str, Any]:
    """Return the JSON error envelope."""
    return {"error": {"code": code, "message": message}}


def iso_time(ts: float) -> str:
    """Return ``ts`` (epoch seconds) as an ISO 8601 UTC timestamp."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def asset_json(asset: AssetRecord) -> dict[str, Any]:
    """Return the ``/get/assets`` representation of an asset."""
    return {
        "id": asset.id,
        "uuid": asset.uuid,
        "name": asset.name,
        "project_id": asset.project_id,
        "group_id": asset.group_id,
        "batch_name": asset.batch_name,
        "size": asset.size,
        "tags": list(asset.tags),
        "metadata": dict(asset.metadata),
        "created_at": iso_time(asset.created_at),
    }


def comment_json(comment: CommentRecord) -> dict[str, Any]:
    """Return the ``/get/comments`` representation of a comment."""
    return {
        "id": comment.id,
        "description": comment.description,
        "color": comment.color,
        "has_marker": comment.has_marker,
        "marker_time": comment.marker_time,
        "has_drawing": comment.has_drawing,
        "is_reply": comment.is_reply,
        "parent_id": comment.parent_id,
        "has_reply": comment.has_reply,
        "asset_id": comment.asset_id,
        "project_id": comment.project_id,
        "type": comment.type,
        "user_first_name": comment.user_first_name,
        "user_last_name": comment.user_last_name,
        "created_at": iso_time(comment.created_at),
    }
