"""The emulator's mutable API state behind one lock: tokens, uploads, assets,
comments, download tasks, the /complete/upload log and request counters."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from watchd.emulator import wire
from watchd.emulator.errors import EmulatorError
from watchd.emulator.records import (
    UPLOAD_OPEN,
    AssetRecord,
    CommentRecord,
    CompleteUploadCall,
    DownloadTask,
    UploadRecord,
    from_dict,
    to_dict,
)

FIRST_IDS = {"asset": 10001, "comment": 70001, "task": 90001}  # distinct ranges read well in logs
FIRST_PLAYLINK_ID = 50001


@dataclass(frozen=True)
class TokenInfo:
    """Who a token belongs to and when it was issued (the token itself is the key)."""

    email: str
    issued_at: float


class EmulatorState:
    """Holds everything the API endpoints change. Callers take ``lock`` around
    read-modify-write sequences; the lock is re-entrant."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.lock = threading.RLock()
        self.complete_lock = threading.Lock()  # serializes /upload/asset/complete assembly
        self.clock = clock
        self.tokens: dict[str, TokenInfo] = {}
        self.uploads: dict[str, UploadRecord] = {}  # by upload_id
        self.upload_ids_by_key: dict[str, str] = {}
        self.assets: dict[int, AssetRecord] = {}  # add with add_asset (it keeps the index)
        # Look-ups by uuid (lower case), in the order added: a scan of every upload or
        # asset at each init made the emulator slower with every file a benchmark sent.
        self._asset_ids_by_uuid: dict[str, int] = {}
        self._upload_ids_by_uuid: dict[str, list[str]] = {}
        self.comments: dict[int, CommentRecord] = {}
        self.tasks: dict[str, DownloadTask] = {}
        self.calls: list[CompleteUploadCall] = []
        self.requests: Counter[str] = Counter()
        self.part_puts: dict[str, Counter[int]] = {}
        self.playlinks: dict[int, list[int]] = {}  # review link -> asset ids (not persisted)
        self._next_ids = dict(FIRST_IDS)

    def add_playlink(self, asset_ids: list[int]) -> int:
        """Return the id of a new review link ("playlink") to these assets."""
        with self.lock:
            ident = FIRST_PLAYLINK_ID + len(self.playlinks)
            self.playlinks[ident] = list(asset_ids)
            return ident

    def next_id(self, kind: str) -> int:
        """Return the next id of ``kind`` (asset, comment or task)."""
        with self.lock:
            ident = self._next_ids[kind]
            self._next_ids[kind] = ident + 1
            return ident

    def count_request(self, endpoint: str) -> None:
        """Count one request to ``endpoint`` (an API path or ``s3:METHOD``)."""
        with self.lock:
            self.requests[endpoint] += 1

    def count_part_put(self, key: str, part_number: int) -> None:
        """Count one successful part upload."""
        with self.lock:
            self.part_puts.setdefault(key, Counter())[part_number] += 1

    def issue_token(self, email: str) -> str:
        """Return a new token for ``email``."""
        token = wire.new_token()
        with self.lock:
            self.tokens[token] = TokenInfo(email, self.clock())
        return token

    def token_email(self, token: str | None, lifetime_s: float | None) -> str:
        """Return the email of a token's user.

        Raises:
            EmulatorError: 401 when the token is missing, unknown or expired.
        """
        if not token:
            raise EmulatorError(401, "MissingToken", "a token is required (X-Token header)")
        with self.lock:
            info = self.tokens.get(token)
            if info is None:
                raise EmulatorError(401, "InvalidToken", "the token is not valid")
            if lifetime_s is not None and self.clock() - info.issued_at > lifetime_s:
                del self.tokens[token]
                raise EmulatorError(401, "TokenExpired", "the token has expired")
            return info.email

    def find_asset(self, ref: int | str) -> AssetRecord | None:
        """Return the asset with this id or uuid."""
        with self.lock:
            if isinstance(ref, int):
                return self.assets.get(ref)
            asset_id = self._asset_ids_by_uuid.get(ref.lower())
            return self.assets.get(asset_id) if asset_id is not None else None

    def add_asset(self, asset: AssetRecord) -> None:
        """Record a new asset (findable by its id and its uuid)."""
        with self.lock:
            self.assets[asset.id] = asset
            self._asset_ids_by_uuid.setdefault(asset.uuid.lower(), asset.id)

    def upload_by_key(self, key: str) -> UploadRecord | None:
        """Return the Flow Capture upload with this key."""
        with self.lock:
            upload_id = self.upload_ids_by_key.get(key)
            return self.uploads.get(upload_id) if upload_id else None

    def open_upload_with_uuid(self, asset_uuid: str) -> UploadRecord | None:
        """Return the latest still open upload initiated with this (lower-case) uuid."""
        with self.lock:
            ids = self._upload_ids_by_uuid.get(asset_uuid, [])
            found = [u for i in ids if (u := self.uploads[i]).state == UPLOAD_OPEN]
            return found[-1] if found else None

    def add_upload(self, upload: UploadRecord) -> None:
        """Record a new Flow Capture upload."""
        with self.lock:
            self.uploads[upload.upload_id] = upload
            self.upload_ids_by_key[upload.key] = upload.upload_id
            if upload.uuid:
                self._upload_ids_by_uuid.setdefault(upload.uuid, []).append(upload.upload_id)

    def to_json(self) -> dict[str, Any]:
        """Return what ``state.json`` keeps (no tokens: clients re-authenticate)."""
        with self.lock:
            return {
                "next_ids": dict(self._next_ids),
                "uploads": [to_dict(u) for u in self.uploads.values()],
                "assets": [to_dict(a) for a in self.assets.values()],
                "comments": [to_dict(c) for c in self.comments.values()],
                "complete_upload_calls": [to_dict(c) for c in self.calls],
            }

    def load_json(self, data: dict[str, Any]) -> None:
        """Restore what :meth:`to_json` wrote."""
        with self.lock:
            self._next_ids.update(data.get("next_ids", {}))
            for item in data.get("uploads", []):
                self.add_upload(from_dict(UploadRecord, item))
            for item in data.get("assets", []):
                self.add_asset(from_dict(AssetRecord, item))
            for item in data.get("comments", []):
                comment = from_dict(CommentRecord, item)
                self.comments[comment.id] = comment
            self.calls = [
                from_dict(CompleteUploadCall, c) for c in data.get("complete_upload_calls", [])
            ]
