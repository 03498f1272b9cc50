"""The Flow Capture API client: one method per endpoint of the vendor document.

Calls act as the authenticated user: what they return depends on that user's
permissions. A refused token (401) re-authenticates once and repeats the call.
Idempotent calls are retried a few times on retryable errors, honouring
Retry-After; a request to slow down (429) holds back every call of the client
for the pause it asks. Other failures are raised as
:mod:`~watchd.flowcapture.errors`.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from watchd.base.stop import StopToken
from watchd.flowcapture import wire
from watchd.flowcapture.backoff import backoff_seconds
from watchd.flowcapture.budget import Budget, holding
from watchd.flowcapture.errors import (
    AuthenticationError,
    FlowCaptureError,
    NotFoundError,
    OperationRefusedError,
    RateLimitedError,
    service_wide,
)
from watchd.flowcapture.models import (
    Asset,
    AuthSession,
    Comment,
    DirectDownload,
    FileCategories,
    Folder,
    Production,
    TaskMessage,
    UploadSession,
    list_of,
)
from watchd.flowcapture.redact import register_secret
from watchd.flowcapture.retry_log import log_retry
from watchd.flowcapture.transport import Transport

log = logging.getLogger(__name__)

AssetRef = int | str  # an asset id (server-made) or the uuid given at upload
CALL_RETRIES = 3  # extra tries of an idempotent call that failed in a retryable way
CALL_BACKOFF_INITIAL_SECONDS = 0.5  # first wait between those tries
CALL_BACKOFF_MAX_SECONDS = 8.0  # longest wait between those tries
PAUSE_JITTER_MAX_SECONDS = 1.0  # calls held back by a 429 go again spread over up to this


class FlowCaptureClient:
    """A client acting as one Flow Capture user (email + API key)."""

    def __init__(
        self,
        email: str,
        api_key: str,
        base_url: str = wire.DEFAULT_BASE_URL,
        *,
        pool_size: int = 8,
        retries: int = CALL_RETRIES,
        sleep: Callable[[float], None] = time.sleep,
        transport: Transport | None = None,
        stop: StopToken | None = None,
        key_source: Callable[[], str] | None = None,
    ):
        register_secret(api_key)
        self.email = email
        self._api_key = api_key
        # Where the key came from, read again at each authentication: a key put right (or
        # rotated) in its file is used without a restart. Raises on an unreadable source.
        self._key_source = key_source
        self._token: str | None = None
        self.session: AuthSession | None = None  # the last authentication's answer
        self._token_lock = threading.Lock()
        self.auth_error: str | None = None  # why the last authentication failed, until one works
        self.outage: str | None = None  # why the last API call failed service-wide, until one works
        self.retries = retries
        self._sleep = sleep
        # Monotonic time before which no call goes out: the service asked to slow down
        # (429), and it is asking all of this user's calls, not only the one refused.
        self._paused_until = 0.0
        self._pause_lock = threading.Lock()
        self.stop = stop  # the daemon's stop: waits between retries end when it is set
        self.transport = transport or Transport(base_url, pool_size=pool_size)
        self.tasks_path: str | None = None  # the task endpoint's spelling, once one answered

    def __repr__(self) -> str:
        return f"FlowCaptureClient(email={self.email!r}, base_url={self.transport.base_url!r})"

    def close(self) -> None:
        """Close the connection pool."""
        self.transport.close()

    def __enter__(self) -> FlowCaptureClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- authentication and the call loop -------------------------------------------------

    def authenticate(self) -> AuthSession:
        """Get a fresh token for this user; return the session (token, the key's folder).

        Raises AuthenticationError when refused.
        """
        self._reread_key()
        params = {wire.AUTH_EMAIL_FIELD: self.email, wire.AUTH_KEY_FIELD: self._api_key}
        try:
            payload = self.transport.call(wire.AUTHENTICATE, params, token=None)
        except AuthenticationError as exc:
            self.auth_error = f"Flow Capture refused the API key for {self.email}"
            raise AuthenticationError(self.auth_error, status=exc.status) from None
        token = payload.get(wire.AUTH_TOKEN_FIELD) if isinstance(payload, dict) else None
        if not token:
            raise AuthenticationError(f"/authenticate/api gave no token for {self.email}")
        register_secret(str(token))
        session = AuthSession.from_wire(
            {"token": str(token), "project_id": payload.get(wire.AUTH_PROJECT_FIELD)}
        )
        with self._token_lock:
            self._token = session.token
            self.session = session
        self.auth_error = None
        log.debug("authenticated as %s (folder of the key: %s)", self.email, session.project_id)
        return session

    def _reread_key(self) -> None:
        """Take the key from its source again, if it changed there (the old one stays when
        the source cannot be read)."""
        if self._key_source is None:
            return
        try:
            key = self._key_source()
        except Exception as exc:  # noqa: BLE001 - any problem keeps the key in use
            log.warning("cannot read the API key again (%s); using the one read before", exc)
            return
        if key and key != self._api_key:
            register_secret(key)
            self._api_key = key
            log.info("the API key of %s changed at its source; using the new one", self.email)

    def key_folder(self) -> int | None:
        """Return the folder id the API key is tied to (an immediates connection), or
        None when authentication named none; authenticates first if needed.

        Raises AuthenticationError, or another FlowCaptureError if the service
        cannot be reached.
        """
        with self._token_lock:
            session = self.session
        if session is None:
            session = self.authenticate()
        return session.project_id

    def _current_token(self) -> str:
        with self._token_lock:
            token = self._token
        if token is None:
            self.authenticate()
            with self._token_lock:
                token = self._token
        assert token is not None
        return token

    def _refresh_token(self, stale: str) -> None:
        """Re-authenticate unless another thread already replaced ``stale``."""
        with self._token_lock:
            if self._token != stale:
                return
            self._token = None
        self.authenticate()

    def call(
        self,
        path: str,
        params: Mapping[str, Any],
        *,
        idempotent: bool = True,
        stop: StopToken | None = None,
        calls: Budget | None = None,
    ) -> Any:
        """Call an endpoint as this user and return its payload.

        Retries retryable failures of idempotent calls (``self.retries`` times);
        raises the last error otherwise. A wait between tries ends early, raising
        Stopped, when ``stop`` (or the client's own stop token) is set. ``calls``:
        each try holds one of its slots (waiting for one, as stoppable), and none
        while it waits to try again, so a failing call does not keep others out.
        After a 429 every call of this client waits out the pause it asked for.
        """
        attempt = 0
        rested = False  # this call has just waited out the pause it was refused with
        while True:
            token = stop or self.stop
            if token is not None:
                token.check()
            if not rested:
                self._wait_out_pause(token)
            try:
                with holding(calls, 1, token):
                    payload = self._call_once(path, params)
            except FlowCaptureError as exc:
                if service_wide(exc):
                    self.outage = str(exc)
                attempt += 1
                delay = _retry_delay(exc, attempt)
                rested = isinstance(exc, RateLimitedError)
                if rested:
                    self._pause(delay)
                if not (idempotent and exc.retryable and attempt <= self.retries):
                    raise
                log_retry(log, exc, "%s failed (%s); trying again in %.1fs", path, exc, delay)
                if token is not None:
                    token.sleep(delay)
                else:
                    self._sleep(delay)
            else:
                self.outage = None
                return payload

    def _pause(self, seconds: float) -> None:
        """Hold every call back for ``seconds`` from now (longer if already paused)."""
        with self._pause_lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def _wait_out_pause(self, token: StopToken | None) -> None:
        """Sleep until the pause a 429 asked for is over, with a little jitter so the
        calls held back do not all go at once (raises Stopped when ``token`` is set)."""
        with self._pause_lock:
            left = self._paused_until - time.monotonic()
        if left <= 0:
            return
        left += random.random() * min(left, PAUSE_JITTER_MAX_SECONDS)
        if token is not None:
            token.sleep(left)
        else:
            self._sleep(left)

    def _call_once(self, path: str, params: Mapping[str, Any]) -> Any:
        token = self._current_token()
        try:
            return self.transport.call(path, params, token)
        except AuthenticationError:
            log.info("token refused on %s; authenticating again", path)
            self._refresh_token(token)
            return self.transport.call(path, params, self._current_token())

    # --- browsing -------------------------------------------------------------------------

    def get_groups(self) -> list[Production]:
        """Return the productions ("groups") this user can see."""
        return list_of(Production, self.call(wire.GET_GROUPS, {}))

    def get_projects(self, group_id: int | None = None) -> list[Folder]:
        """Return the folders ("projects") this user can see, optionally in one production."""
        return list_of(Folder, self.call(wire.GET_PROJECTS, {"group_id": group_id}))

    def get_assets(self, project_id: int, *, stop: StopToken | None = None) -> list[Asset]:
        """Return the assets of one folder that this user can see."""
        payload = self.call(wire.GET_ASSETS, {"project_id": project_id}, stop=stop)
        return list_of(Asset, payload)

    # --- comments -------------------------------------------------------------------------

    def get_comments(self, asset: AssetRef) -> list[Comment]:
        """Return an asset's comments, earliest first (IO points included)."""
        return list_of(Comment, self.call(wire.GET_COMMENTS, {"asset_id": asset}))

    def create_comment(
        self,
        asset: AssetRef,
        description: str,
        *,
        color: str | None = None,
        marker_time: float | None = None,
        parent_comment_id: int | None = None,
    ) -> Comment:
        """Add a text comment (a reply when ``parent_comment_id`` is given); return it."""
        params = _comment_params(description, color, marker_time, parent_comment_id)
        payload = self.call(wire.CREATE_COMMENT, {"asset_id": asset, **params}, idempotent=False)
        return Comment.from_wire(payload)

    def update_comment(
        self,
        comment_id: int,
        *,
        description: str | None = None,
        color: str | None = None,
        marker_time: float | None = None,
        has_marker: bool | None = None,
        parent_comment_id: int | None = None,
        is_reply: bool | None = None,
    ) -> Comment:
        """Change the given fields of a comment; return the updated comment.

        ``marker_time`` sets a marker (``has_marker`` true); ``has_marker=False``
        removes it. ``parent_comment_id`` makes the comment a reply to that one
        (``is_reply`` true); ``is_reply=False`` makes it a top-level comment.
        Fields left None are not sent, so the server keeps them.
        """
        params = _comment_params(description, color, marker_time, parent_comment_id)
        if has_marker is not None and marker_time is None:
            params["has_marker"] = has_marker
        if is_reply is not None and parent_comment_id is None:
            params["is_reply"] = is_reply
        payload = self.call(wire.UPDATE_COMMENT, {"id": comment_id, **params})
        return Comment.from_wire(payload)

    def delete_comment(self, comment_id: int) -> bool:
        """Remove a comment; return True. Raises OperationRefusedError on ``deleted`` false."""
        payload = self.call(wire.DELETE_COMMENT, {"id": comment_id})
        return _confirmed(wire.DELETE_COMMENT, payload, f"comment {comment_id}")

    # --- metadata -------------------------------------------------------------------------

    def update_asset(
        self,
        asset: AssetRef,
        *,
        tags: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        stop: StopToken | None = None,
        calls: Budget | None = None,
    ) -> bool:
        """Set an asset's tags and metadata keys; return True.

        ``tags`` replaces the asset's tag list (``[]`` clears it; None leaves it).
        ``metadata`` sets the keys given and, we assume, keeps the others (merge);
        a key whose value is None is cleared (sent as JSON null). Values go as
        given: "003" stays a string. Raises ValueError for a metadata key named
        ``id`` or ``tags`` and OperationRefusedError when ``updated`` is false.
        """
        clash = wire.UPDATE_ASSET_OWN_FIELDS & set(metadata or {})
        if clash:
            raise ValueError(f"metadata key {sorted(clash)[0]!r} is a field of /update/asset")
        params: dict[str, Any] = {
            key: wire.NULL if value is None else value for key, value in (metadata or {}).items()
        }
        params["id"] = asset
        if tags is not None:
            params["tags"] = list(tags)
        payload = self.call(wire.UPDATE_ASSET, params, stop=stop, calls=calls)
        return _confirmed(wire.UPDATE_ASSET, payload, f"asset {asset}")

    # --- uploads --------------------------------------------------------------------------

    def upload_init(
        self,
        project_id: int | None,
        filename: str,
        uuid: str | None = None,
        *,
        stop: StopToken | None = None,
        calls: Budget | None = None,
    ) -> UploadSession:
        """Start a multipart upload of ``filename`` into a folder; return its handles.

        ``project_id`` None leaves it out: the service then uses the folder the key
        is tied to (an immediates connection) or refuses the call.
        Not repeated on failure: a lost answer may have left an upload behind.
        """
        params = {"project_id": project_id, "filename": filename, wire.UUID_FIELD: uuid}
        payload = self.call(wire.UPLOAD_INIT, params, idempotent=False, stop=stop, calls=calls)
        return UploadSession.from_wire(payload)

    def upload_part_url(
        self,
        upload: UploadSession,
        part_number: int,
        content_md5: str,
        *,
        stop: StopToken | None = None,
        calls: Budget | None = None,
    ) -> str:
        """Return a presigned URL to PUT one part to (valid for a few minutes)."""
        params = {
            "upload_id": upload.upload_id,
            "key": upload.key,
            "part_number": part_number,
            "content_md5": content_md5,
        }
        payload = self.call(wire.UPLOAD_PART, params, stop=stop, calls=calls)
        url = payload.get("presigned_url") if isinstance(payload, dict) else None
        if not url:
            raise FlowCaptureError(f"{wire.UPLOAD_PART}: the answer had no presigned_url")
        return str(url)

    def upload_abort(
        self,
        upload: UploadSession,
        *,
        stop: StopToken | None = None,
        calls: Budget | None = None,
    ) -> None:
        """Abort a multipart upload, discarding its parts."""
        params = {"upload_id": upload.upload_id, "key": upload.key}
        self.call(wire.UPLOAD_ABORT, params, stop=stop, calls=calls)

    def upload_complete(
        self,
        upload: UploadSession,
        etags: Sequence[str],
        *,
        filename: str,
        project_id: int | None,
        batch_name: str | None = None,
        uuid: str | None = None,
        stop: StopToken | None = None,
    ) -> int:
        """Complete the multipart upload with the ETags in part order; return the asset id.

        ``project_id`` None leaves it out, as on :meth:`upload_init`.
        Not repeated on failure: after a lost answer the upload may be completed, and
        a repeat would then get NoSuchUpload; the caller decides what that means.
        """
        params = {
            "upload_id": upload.upload_id,
            "key": upload.key,
            "etags": list(etags),
            "filename": filename,
            "project_id": project_id,
            "batch_name": batch_name,
            wire.UUID_FIELD: uuid,
        }
        payload = self.call(wire.UPLOAD_COMPLETE, params, idempotent=False, stop=stop)
        asset_id = payload.get("asset_id") if isinstance(payload, dict) else None
        if asset_id is None:
            raise FlowCaptureError(f"{wire.UPLOAD_COMPLETE}: the answer had no asset_id")
        return int(asset_id)

    def complete_upload(
        self,
        project_id: int | None,
        keys: Iterable[str],
        batch_name: str | None = None,
        *,
        stop: StopToken | None = None,
    ) -> bool:
        """Close an upload session: queue the given keys for ingest; return True.

        ``project_id`` None leaves it out, as on :meth:`upload_init`.
        Raises OperationRefusedError when the service answers ``ok`` false.
        """
        params = {"project_id": project_id, "batch_name": batch_name, "keys": list(keys)}
        payload = self.call(wire.COMPLETE_UPLOAD, params, idempotent=False, stop=stop)
        return _confirmed(wire.COMPLETE_UPLOAD, payload, f"batch {batch_name or '(untitled)'}")

    # --- downloads ------------------------------------------------------------------------

    def get_file_categories(
        self, asset_ids: Sequence[int] | None = None, playlink_id: int | None = None
    ) -> FileCategories:
        """Return the download categories (ORIGINAL, proxies) of some assets."""
        params = {"assets": list(asset_ids) if asset_ids else None, "playlink_id": playlink_id}
        return FileCategories.from_wire(self.call(wire.GET_FILE_CATEGORIES, params))

    def download_direct(
        self,
        asset_ids: Sequence[int],
        categories: Sequence[str],
        *,
        non_watermarked: bool = False,
    ) -> DirectDownload:
        """Start direct downloads; return the tasks begun and the per-asset errors."""
        params = {
            "assets": list(asset_ids),
            "file_categories": list(categories),
            "non_watermarked": non_watermarked,
        }
        return DirectDownload.from_wire(self.call(wire.DOWNLOAD_DIRECT, params))

    def get_task_messages(self, task_ids: Sequence[str | int]) -> list[TaskMessage]:
        """Return the latest status message of each download task.

        The document spells the endpoint two ways. Until one has answered, a 404
        on one spelling tries the other once; the one that answers is kept for
        this client. Raises the first 404 when both refuse.
        """
        params = {"task_ids": list(task_ids)}
        if self.tasks_path is not None:
            return list_of(TaskMessage, self.call(self.tasks_path, params))
        first, second = wire.GET_TASK_MESSAGES_PATHS
        try:
            payload, path = self.call(first, params), first
        except NotFoundError as not_there:
            log.info("%s answered 404 (%s); trying %s", first, not_there, second)
            try:
                payload, path = self.call(second, params), second
            except NotFoundError:
                raise not_there from None
        self.tasks_path = path
        return list_of(TaskMessage, payload)


def _confirmed(path: str, payload: Any, what: str) -> bool:
    """Return True when the endpoint's result flag is true; else raise OperationRefusedError."""
    confirmed, answered = wire.result_flag(path, payload)
    if confirmed:
        return True
    flag = wire.RESULT_FLAGS[path]
    shown = json.dumps(answered) if answered is not None else "nothing"
    raise OperationRefusedError(
        f"{path} answered {flag}={shown} for {what}: the service did not do it", code=flag
    )


def _comment_params(
    description: str | None,
    color: str | None,
    marker_time: float | None,
    parent_comment_id: int | None,
) -> dict[str, Any]:
    params: dict[str, Any] = {"description": description, "color": color}
    if marker_time is not None:
        params.update(has_marker=True, marker_time=float(marker_time))
    if parent_comment_id is not None:
        params.update(is_reply=True, parent_comment_id=parent_comment_id)
    return params


def _retry_delay(exc: FlowCaptureError, attempt: int) -> float:
    if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
        return exc.retry_after
    return backoff_seconds(
        attempt, initial=CALL_BACKOFF_INITIAL_SECONDS, cap=CALL_BACKOFF_MAX_SECONDS
    )
