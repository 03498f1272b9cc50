"""The Flow Capture API port: routing, token checks, injected faults and JSON
rendering. Endpoint logic lives in the ``api_*`` modules."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from watchd.emulator import admin, api_browse, api_comments, api_downloads, api_upload, wire
from watchd.emulator.context import Context
from watchd.emulator.errors import EmulatorError
from watchd.emulator.httpio import BaseHandler
from watchd.emulator.world import User

log = logging.getLogger(__name__)

Endpoint = Callable[[Context, User, dict[str, Any]], Any]

AUTH_PATH = "/authenticate/api"
ROUTES: dict[str, Endpoint] = {
    "/get/groups": api_browse.get_groups,
    "/get/projects": api_browse.get_projects,
    "/get/assets": api_browse.get_assets,
    "/update/asset": api_browse.update_asset,
    "/get/comments": api_comments.get_comments,
    "/create/comment": api_comments.create_comment,
    "/update/comment": api_comments.update_comment,
    "/delete/comment": api_comments.delete_comment,
    "/upload/asset/init": api_upload.init,
    "/upload/asset/part": api_upload.part,
    "/upload/asset/abort": api_upload.abort,
    "/upload/asset/complete": api_upload.complete,
    "/complete/upload": api_upload.complete_upload,
    "/get/asset/file/categories": api_downloads.file_categories,
    "/download/assets/direct": api_downloads.download_direct,
}  # and the task endpoint, under the spelling the ``tasks_path`` setting names
FAULT_CODES = {429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable"}


class ApiHandler(BaseHandler):
    """Serves the Flow Capture API and the ``/_emulator`` admin endpoints."""

    def do_POST(self) -> None:
        self.run_guarded(self._serve, self._send_internal_error)

    do_GET = do_POST
    do_PUT = do_POST
    do_DELETE = do_POST

    def _read_body(self) -> bytes:
        self.body_consumed = True
        length = self.headers.get("Content-Length", "0")
        if not length.isdigit():
            raise EmulatorError(400, "InvalidParameter", "bad Content-Length")
        if int(length) > wire.MAX_JSON_BODY_BYTES:
            self.body_consumed = False
            raise EmulatorError(413, "RequestTooLarge", "request body too large")
        self.send_continue()
        return self.rfile.read(int(length)) if int(length) else b""

    def _serve(self) -> None:
        path = self.path_only.rstrip("/") or "/"
        try:
            raw = self._read_body()
            if path.startswith(admin.PREFIX):
                status, result = admin.handle(self.ctx, self.command, path, raw)
                self.send_json(status, result)
                return
            self.ctx.state.count_request(path)
            answer_false = self._apply_faults(path)
            self.send_json(200, self._dispatch(path, raw, answer_false))
        except EmulatorError as exc:
            self.send_error_json(exc)

    def _apply_faults(self, path: str) -> bool:
        """Apply an injected fault; return True when the answer is to be a false result."""
        action = self.before_faults(path)
        if action is None:
            return False
        if action.answer_false:
            log.info("fault: %s answers its result flag false", path)
            return True
        if action.reset or action.status is None:
            self.reset_connection()
        log.info("fault: %s answered %s", path, action.status)
        raise self.fault_error(action.status, action.retry_after)

    def fault_error(self, status: int, retry_after: float | None) -> EmulatorError:
        """Return the API error for an injected ``status`` (429 defaults to Retry-After 1)."""
        if status == 429 and retry_after is None:
            retry_after = 1
        return EmulatorError(
            status, FAULT_CODES.get(status, "InjectedFault"), "injected fault", retry_after
        )

    def _dispatch(self, path: str, raw: bytes, answer_false: bool = False) -> Any:
        endpoint = self._endpoint(path)
        if endpoint is None and path != AUTH_PATH:
            raise EmulatorError(404, "UnknownEndpoint", f"no such endpoint: {path}")
        params, body_token = wire.parse_body(raw)
        if not raw.strip():
            params = dict(parse_qsl(urlsplit(self.path).query))
            body_token = params.pop(wire.TOKEN_BODY_KEY, None)
        if endpoint is None:
            return api_browse.authenticate(self.ctx, params)
        token = self.headers.get(wire.TOKEN_HEADER) or body_token
        email = self.ctx.state.token_email(token, self.ctx.faults.get("token_lifetime_s"))
        user = self.ctx.world.user(email)
        if user is None:  # the world changed under a persisted token
            raise EmulatorError(401, "InvalidToken", "the token's user no longer exists")
        if answer_false:  # the service said no: nothing is done
            return {wire.RESULT_FLAGS[path]: False}
        return endpoint(self.ctx, user, params)

    def _endpoint(self, path: str) -> Endpoint | None:
        if path == wire.TASKS_PATHS[self.ctx.faults.get("tasks_path")]:
            return api_downloads.tasks_messages
        return ROUTES.get(path)

    def send_json(self, status: int, value: object) -> None:
        """Send a JSON response."""
        self.respond(status, wire.encode_json(value), "application/json")

    def send_error_json(self, exc: EmulatorError) -> None:
        """Send an error in the API's JSON envelope."""
        headers = {}
        if exc.retry_after is not None:
            headers["Retry-After"] = str(max(0, math.ceil(exc.retry_after)))
        if exc.status >= 500 or exc.status in {429, 401}:
            log.info("%s %s -> %s %s", self.command, self.path_only, exc.status, exc.code)
        else:
            log.debug(
                "%s %s -> %s %s: %s",
                self.command,
                self.path_only,
                exc.status,
                exc.code,
                exc.message,
            )
        body = wire.encode_json(wire.error_body(exc.code, exc.message))
        self.respond(exc.status, body, "application/json", headers)

    def _send_internal_error(self, exc: Exception) -> None:
        self.send_error_json(EmulatorError(500, "InternalError", "internal emulator error"))
