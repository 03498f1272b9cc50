"""The upload endpoints: init, part (presigned URL), abort, complete, and the
session-closing ``/complete/upload`` that starts ingest."""

from __future__ import annotations

import base64
import binascii
import logging
import uuid as uuidlib
from typing import Any

from watchd.emulator import params, wire
from watchd.emulator.access import uploadable_folder
from watchd.emulator.context import Context
from watchd.emulator.errors import EmulatorError, bad_param, forbidden
from watchd.emulator.objects import MAX_PART_NUMBER, ObjectInfo, no_such_upload
from watchd.emulator.records import (
    UPLOAD_ABORTED,
    UPLOAD_COMPLETED,
    UPLOAD_INGESTING,
    UPLOAD_OPEN,
    AssetRecord,
    CompleteUploadCall,
    UploadRecord,
)
from watchd.emulator.world import User

log = logging.getLogger(__name__)


def init(ctx: Context, user: User, body: dict[str, Any]) -> dict[str, Any]:
    """``/upload/asset/init``: start a multipart upload into a folder.

    Returns its ``upload_id`` and ``key`` (those of the open upload with the same
    uuid, if the ``init_same_uuid`` setting is "resume").

    Raises:
        EmulatorError: 409 DuplicateUuid (see :func:`_upload_to_resume`), and
            the parameter and permission errors.
    """
    project_id = _project_of(user, body)
    filename = params.req_str(body, "filename")
    asset_uuid = _uploaders_uuid(ctx, body)
    uploadable_folder(ctx, user, project_id)
    with ctx.state.lock:  # the uuid checks and the new upload are one step for racing inits
        if asset_uuid is not None:
            earlier = _upload_to_resume(ctx, user, asset_uuid, project_id, filename)
            if earlier is not None:
                log.info("upload of %s resumed for a repeated init (key %s)", filename, earlier.key)
                return {"upload_id": earlier.upload_id, "key": earlier.key}
        key = wire.new_upload_key(filename)
        upload = ctx.store.create_upload(wire.INGEST_BUCKET, key)
        record = UploadRecord(
            upload.upload_id, key, filename, project_id, asset_uuid, user.email, ctx.clock(),
            project_id_sent=body.get("project_id") is not None,
        )  # fmt: skip
        ctx.state.add_upload(record)
    log.info("upload of %s into project %s started (key %s)", filename, project_id, key)
    return {"upload_id": upload.upload_id, "key": key}


def _project_of(user: User, body: dict[str, Any]) -> int:
    """Return the folder a call names, or else the folder the user's key is tied to.

    The document: ``project_id`` may be left out by a key of an immediates
    connection (the folder comes from the token); every other key must give it.

    Raises:
        EmulatorError: 400 naming ``project_id`` when it is missing and the key
            is tied to no folder.
    """
    project_id = params.opt_int(body, "project_id")
    if project_id is not None:
        return project_id
    if user.project_id is not None:
        return user.project_id
    raise bad_param(
        "project_id",
        f"is required: the API key of {user.email} is not tied to a folder "
        "(only a key of an immediates connection may leave it out)",
    )


def _uploaders_uuid(ctx: Context, body: dict[str, Any]) -> str | None:
    """Return the uuid the uploader sent, or None when the service ignores the field."""
    if ctx.faults.get("uuid_field") == "ignored":
        return None
    return params.opt_uuid(body, "uuid")


def _upload_to_resume(
    ctx: Context, user: User, asset_uuid: str, project_id: int, filename: str
) -> UploadRecord | None:
    """Return the open upload to answer again for a repeated uuid, or None to start
    a new one; the caller holds the state lock.

    Raises:
        EmulatorError: 409 DuplicateUuid when an asset has the uuid, or when an
            upload with it is open and ``init_same_uuid`` is "refuse" (or
            "resume" but the open upload is another user's, folder's or file's).
    """
    taken = ctx.state.find_asset(asset_uuid)
    if taken is not None:
        raise EmulatorError(409, "DuplicateUuid", f"uuid {asset_uuid} belongs to asset {taken.id}")
    mode = ctx.faults.get("init_same_uuid")
    earlier = ctx.state.open_upload_with_uuid(asset_uuid)
    if earlier is None or mode == "new":
        return None  # S3's CreateMultipartUpload is not idempotent: an earlier one stays open
    wanted = (user.email, project_id, filename)
    same = (earlier.user_email, earlier.project_id, earlier.filename) == wanted
    if mode == "resume" and same:
        return earlier
    other = "" if same else " for another user, folder or file"
    raise EmulatorError(
        409, "DuplicateUuid", f"an upload with uuid {asset_uuid} is already open{other}"
    )


def _own_upload(ctx: Context, user: User, body: dict[str, Any], *states: str) -> UploadRecord:
    upload_id = params.req_str(body, "upload_id")
    key = params.req_str(body, "key")
    with ctx.state.lock:
        record = ctx.state.uploads.get(upload_id)
        if record is None or record.key != key or record.state not in states:
            raise no_such_upload(upload_id)
        if record.user_email != user.email:
            raise forbidden("this upload belongs to another user")
        return record


def _content_md5(body: dict[str, Any]) -> str:
    value = params.req_str(body, "content_md5")
    try:
        if len(base64.b64decode(value, validate=True)) != 16:
            raise ValueError("not 16 bytes")
    except (ValueError, binascii.Error):
        raise bad_param("content_md5", "must be the base64 of a 16-byte MD5 digest") from None
    return value


def part(ctx: Context, user: User, body: dict[str, Any]) -> dict[str, Any]:
    """``/upload/asset/part``: return a presigned URL for one part."""
    record = _own_upload(ctx, user, body, UPLOAD_OPEN)
    part_number = params.req_int(body, "part_number")
    if not 1 <= part_number <= MAX_PART_NUMBER:
        raise bad_param("part_number", f"must be between 1 and {MAX_PART_NUMBER}")
    content_md5 = _content_md5(body)
    url = ctx.signer.presign(
        "PUT",
        ctx.s3_base_url,
        wire.INGEST_BUCKET,
        record.key,
        {"partNumber": str(part_number), "uploadId": record.upload_id},
        float(ctx.faults.get("url_lifetime_s")),
        content_md5,
    )
    return {"presigned_url": url}


def abort(ctx: Context, user: User, body: dict[str, Any]) -> dict[str, Any]:
    """``/upload/asset/abort``: discard an open upload and its parts."""
    record = _own_upload(ctx, user, body, UPLOAD_OPEN)
    ctx.store.abort(record.upload_id)
    with ctx.state.lock:
        record.state = UPLOAD_ABORTED
    log.info("upload %s aborted", record.key)
    return {}


def complete(ctx: Context, user: User, body: dict[str, Any]) -> dict[str, Any]:
    """``/upload/asset/complete``: assemble the parts; return the preallocated asset id.

    Raises:
        EmulatorError: 404 NoSuchUpload for an upload already completed (as on
            S3, a completed upload no longer exists) or aborted; 400 for
            mismatched parameters or parts S3 would refuse.
    """
    record = _own_upload(ctx, user, body, UPLOAD_OPEN)
    etags = params.str_list(body, "etags")
    if params.req_str(body, "filename") != record.filename:
        raise bad_param("filename", "must match the filename given to /upload/asset/init")
    if _project_of(user, body) != record.project_id:
        raise bad_param("project_id", "must match the folder of /upload/asset/init")
    given_uuid = _uploaders_uuid(ctx, body)
    if given_uuid and record.uuid and given_uuid != record.uuid:
        raise bad_param("uuid", "must match the uuid given to /upload/asset/init")
    batch = params.opt_str(body, "batch_name") or wire.DEFAULT_BATCH_NAME
    with ctx.state.complete_lock:  # of two racing completes one wins, one gets NoSuchUpload
        return {"asset_id": _assemble(ctx, user, record, etags, batch, given_uuid)}


def _assemble(
    ctx: Context,
    user: User,
    record: UploadRecord,
    etags: list[str],
    batch: str,
    given_uuid: str | None,
) -> int:
    """Assemble the upload's object and return the new asset's id; the caller holds
    the complete lock.

    Raises:
        EmulatorError: 404 NoSuchUpload when a racing complete (or abort) got
            there first; 400 InvalidPart and S3's other part errors.
    """
    if record.state != UPLOAD_OPEN:
        raise no_such_upload(record.upload_id)
    upload = ctx.store.get_upload(record.upload_id)
    unlisted = sorted(n for n in upload.parts if n > len(etags))
    if unlisted:
        raise EmulatorError(
            400, "InvalidPart", f"uploaded part(s) {unlisted} are missing from 'etags'"
        )
    info = ctx.store.complete(record.upload_id, [(i + 1, e) for i, e in enumerate(etags)])
    asset = _new_asset(ctx, user, record, info, batch, given_uuid)
    log.info(
        "upload %s completed: asset %s, %d bytes, batch %r", record.key, asset.id, info.size, batch
    )
    return asset.id


def _new_asset(
    ctx: Context,
    user: User,
    record: UploadRecord,
    info: ObjectInfo,
    batch: str,
    given_uuid: str | None,
) -> AssetRecord:
    """Preallocate the asset of a completed upload (not visible until ingested)."""
    folder = ctx.world.folders[record.project_id]
    with ctx.state.lock:
        asset = AssetRecord(
            id=ctx.state.next_id("asset"),
            uuid=record.uuid or given_uuid or str(uuidlib.uuid4()),
            name=record.filename,
            project_id=record.project_id,
            group_id=folder.production_id,
            batch_name=batch,
            size=info.size,
            etag=info.etag,
            bucket=info.bucket,
            key=info.key,
            owner_email=user.email,
            created_at=ctx.clock(),
        )
        ctx.state.add_asset(asset)
        record.state, record.asset_id, record.batch_name = UPLOAD_COMPLETED, asset.id, batch
    return asset


def complete_upload(ctx: Context, user: User, body: dict[str, Any]) -> dict[str, Any]:
    """``/complete/upload``: queue the completed uploads of a batch for ingest.

    Keys queued by an earlier call are accepted again; the recorded call notes
    them (``repeated_keys``, and ``repeat`` when every key was).
    """
    project_id = _project_of(user, body)
    batch = params.opt_str(body, "batch_name") or wire.DEFAULT_BATCH_NAME
    keys = params.str_list(body, "keys")
    delay = float(ctx.faults.get("processing_delay_s"))
    with ctx.state.lock:
        records = _batch_members(ctx, user, keys, project_id, batch)
        repeated = [r.key for r in records if r.state == UPLOAD_INGESTING]
        now = ctx.clock()
        for record in records:
            if record.state == UPLOAD_COMPLETED and record.asset_id is not None:
                record.state = UPLOAD_INGESTING
                ctx.state.assets[record.asset_id].visible_at = now + delay
        call = CompleteUploadCall(
            project_id, batch, list(keys), user.email, now, len(repeated) == len(records), repeated,
            project_id_sent=body.get("project_id") is not None,
        )  # fmt: skip
        ctx.state.calls.append(call)
    log.info(
        "batch %r of project %s: %d file(s) queued for ingest, %d of them again",
        batch, project_id, len(keys), len(repeated),
    )  # fmt: skip
    return {"ok": True}


def _batch_members(
    ctx: Context, user: User, keys: list[str], project_id: int, batch: str
) -> list[UploadRecord]:
    records = [ctx.state.upload_by_key(k) for k in keys]
    unknown = [k for k, r in zip(keys, records, strict=True) if r is None]
    if unknown:
        raise bad_param("keys", f"contains unknown key(s): {', '.join(unknown)}")
    found = [r for r in records if r is not None]
    if any(r.user_email != user.email for r in found):
        raise forbidden("keys include uploads of another user")
    for r in found:
        if r.state not in (UPLOAD_COMPLETED, UPLOAD_INGESTING):
            raise bad_param("keys", f"upload {r.key} has not been completed")
        if r.project_id != project_id:
            raise bad_param(
                "project_id", f"upload {r.key} was completed into project {r.project_id}"
            )
        if r.batch_name != batch:
            raise bad_param(
                "batch_name", f"upload {r.key} was completed into batch {r.batch_name!r}"
            )
    return found
