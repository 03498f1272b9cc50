"""Every unconfirmed choice about the Flow Capture wire format, in one place.

The vendor document names the endpoints and most fields but not the envelope.
What is known from public material and what we chose is written up in
``shared/API-NOTES.md``; when the full vendor reference is at hand, this is the
module to correct.
"""

from __future__ import annotations

from typing import Any

from watchd.base.service import DEFAULT_BASE_URL

__all__ = ["DEFAULT_BASE_URL"]  # the API address lives with the service facts; re-exported here

# The token from /authenticate/api travels in this header (known).
TOKEN_HEADER = "X-Token"

# Endpoint paths hang off the root with no prefix or version (known).
AUTHENTICATE = "/authenticate/api"
GET_GROUPS = "/get/groups"
GET_PROJECTS = "/get/projects"
GET_ASSETS = "/get/assets"
GET_COMMENTS = "/get/comments"
CREATE_COMMENT = "/create/comment"
UPDATE_COMMENT = "/update/comment"
DELETE_COMMENT = "/delete/comment"
UPLOAD_INIT = "/upload/asset/init"
UPLOAD_PART = "/upload/asset/part"
UPLOAD_ABORT = "/upload/asset/abort"
UPLOAD_COMPLETE = "/upload/asset/complete"
COMPLETE_UPLOAD = "/complete/upload"
UPDATE_ASSET = "/update/asset"
GET_FILE_CATEGORIES = "/get/asset/file/categories"
DOWNLOAD_DIRECT = "/download/assets/direct"
# Known only as far as the document goes, which spells the task endpoint both ways:
# the client tries the first, then the other once on a 404, and keeps the one that worked.
GET_TASK_MESSAGES = "/get/tasks/messages"
GET_TASK_MESSAGES_PATHS = (GET_TASK_MESSAGES, "/get/tasks/message")

# Our choice: the uploader's asset UUID is sent under this name on init and complete.
UUID_FIELD = "uuid"

# Our choice: /authenticate/api takes these fields and answers {"token": ...}.
AUTH_EMAIL_FIELD = "email"
AUTH_KEY_FIELD = "api_key"
AUTH_TOKEN_FIELD = "token"
# Known (the document): authentication returns the folder of a key tied to one (an
# immediates connection) as ``project_id``; init, complete and /complete/upload may then
# leave ``project_id`` out. Our choice: watchd sends that id explicitly all the same.
AUTH_PROJECT_FIELD = "project_id"


# Known: these endpoints answer one boolean. Our choice: only a JSON ``true`` under
# that name (or a bare ``true``) is success; false, null or a missing flag is a refusal.
RESULT_FLAGS = {COMPLETE_UPLOAD: "ok", UPDATE_ASSET: "updated", DELETE_COMMENT: "deleted"}


def result_flag(path: str, payload: Any) -> tuple[bool, Any]:
    """Return ``(confirmed, what was answered)`` for an endpoint of :data:`RESULT_FLAGS`."""
    if payload is True:
        return True, True
    answered = payload.get(RESULT_FLAGS[path]) if isinstance(payload, dict) else payload
    return answered is True, answered


class _Null:
    """The type of :data:`NULL`."""

    def __repr__(self) -> str:
        return "NULL"


NULL: Any = _Null()  # a parameter sent as JSON null; a parameter that is None is left out

# Known: /update/asset takes the asset as ``id`` and the tag list as ``tags``; every other
# key is metadata, so metadata keys of these names cannot be sent.
UPDATE_ASSET_OWN_FIELDS = frozenset({"id", "tags"})


def request_body(params: dict[str, Any]) -> dict[str, Any]:
    """Return the JSON body for an API call: parameters go under ``data`` (known).

    A parameter that is None is left out (the server's default applies); one that
    is :data:`NULL` is sent as JSON null (e.g. to clear a metadata key).
    """
    return {"data": {k: None if v is NULL else v for k, v in params.items() if v is not None}}


def unwrap_response(body: Any) -> Any:
    """Return the payload of a response body.

    Responses are bare JSON (known), but a body wrapped as ``{"data": ...}`` is
    unwrapped too, in case the service or a proxy adds the envelope.
    """
    if isinstance(body, dict) and set(body) == {"data"}:
        return body["data"]
    return body


def error_of(body: Any) -> tuple[str, str] | None:
    """Return ``(code, message)`` when a response body carries an error, else None.

    Our choice: errors look like ``{"error": {"code": ..., "message": ...}}``; a
    bare string under ``error`` is accepted too.
    """
    if not isinstance(body, dict) or "error" not in body or body["error"] in (None, False):
        return None
    error = body["error"]
    if isinstance(error, dict):
        code = str(error.get("code") or "error")
        message = str(error.get("message") or error.get("detail") or code)
        return code, message
    return "error", str(error)
