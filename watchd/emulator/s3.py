"""The S3 port: path-style routing, authorization (our presigned URLs are
verified; AWS SDK signatures are accepted unverified), injected faults
(an ``after`` fault replaces the success answer of any operation)."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, unquote, urlsplit

from watchd.emulator.errors import EmulatorError
from watchd.emulator.s3_multipart import MultipartOps
from watchd.emulator.s3_objects import ObjectOps

log = logging.getLogger(__name__)

_FAULT_CODES = {429: "SlowDown", 500: "InternalError", 503: "SlowDown"}


class S3Handler(ObjectOps, MultipartOps):
    """Serves the S3 REST protocol."""

    def do_GET(self) -> None:
        self.run_guarded(self._serve, self._send_internal_error)

    do_PUT = do_GET
    do_POST = do_GET
    do_DELETE = do_GET
    do_HEAD = do_GET

    def _serve(self) -> None:
        split = urlsplit(self.path)
        path = unquote(split.path)
        pairs = parse_qsl(split.query, keep_blank_values=True)
        query = dict(pairs)
        endpoint = f"s3:{self.command}"
        self.ctx.state.count_request(endpoint)
        self.inject_reset = False
        try:
            self._apply_faults(endpoint)
            self._authorize(path, pairs)
            bucket, _, key = path.lstrip("/").partition("/")
            self._route(bucket, key, query)
        except EmulatorError as exc:
            self.send_s3_error(exc)

    def _apply_faults(self, endpoint: str) -> None:
        action = self.before_faults(endpoint)
        if action is None:
            return
        if action.reset or action.status is None:
            if self.command not in ("PUT", "GET"):
                self.reset_connection()
            self.inject_reset = True  # PUT: part of the body is read; GET: part is sent
            return
        log.info("fault: %s %s answered %s", self.command, self.path_only, action.status)
        raise self.fault_error(action.status, action.retry_after)

    def fault_error(self, status: int, retry_after: float | None) -> EmulatorError:
        """Return the S3 error for an injected ``status``."""
        code = _FAULT_CODES.get(status, "InjectedFault")
        return EmulatorError(status, code, "injected fault", retry_after)

    def _authorize(self, path: str, pairs: list[tuple[str, str]]) -> None:
        if self.ctx.signer.verify(self.command, path, pairs, self.headers.get("Content-MD5")):
            return
        keys = {k for k, _ in pairs}
        auth = self.headers.get("Authorization", "")
        if auth.startswith("AWS") or {"X-Amz-Signature", "Signature"} & keys:
            return  # an AWS SDK's own signature: accepted without checking (dummy keys)
        raise EmulatorError(403, "AccessDenied", "Access Denied (no signature)")

    def _route(self, bucket: str, key: str, query: dict[str, str]) -> None:
        method = self.command
        if not bucket:
            if method != "GET":
                raise EmulatorError(405, "MethodNotAllowed", "not allowed on the service")
            self.list_buckets()
        elif not key:
            self._route_bucket(bucket, query)
        else:
            self._route_object(bucket, key, query)

    def _route_object(self, bucket: str, key: str, query: dict[str, str]) -> None:
        method = self.command
        if method == "PUT":
            if "partNumber" in query or "uploadId" in query:
                self.upload_part(bucket, key, query)
            else:
                self.put_object(bucket, key)
        elif method == "POST":
            if "uploads" in query:
                self.create_upload(bucket, key)
            elif "uploadId" in query:
                self.complete_upload(bucket, key, query)
            else:
                raise EmulatorError(501, "NotImplemented", "this POST is not supported")
        elif method in ("GET", "HEAD"):
            if "uploadId" in query and method == "GET":
                self.list_parts(bucket, key, query)
            else:
                self.get_object(bucket, key, head_only=method == "HEAD")
        elif "uploadId" in query:
            self.abort_upload(bucket, key, query)
        else:
            self.delete_object(bucket, key)

    def _route_bucket(self, bucket: str, query: dict[str, str]) -> None:
        method = self.command
        if method == "GET" and not ({"uploads", "location", "versioning", "policy"} & set(query)):
            self.list_objects(bucket, query)
        elif method == "GET" and "location" in query:
            self.send_xml(200, b'<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint/>')
        elif method in ("PUT", "HEAD", "DELETE"):
            status = 204 if method == "DELETE" else 200
            self.send_empty(status, {"Location": f"/{bucket}"} if method == "PUT" else None)
        else:
            raise EmulatorError(501, "NotImplemented", "this bucket operation is not supported")

    def _send_internal_error(self, exc: Exception) -> None:
        self.send_s3_error(EmulatorError(500, "InternalError", "internal emulator error"))
