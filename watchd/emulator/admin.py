"""The ``/_emulator`` admin endpoints (no token): state snapshot and faults."""

from __future__ import annotations

import json
from typing import Any

from watchd.emulator.context import Context
from watchd.emulator.errors import EmulatorError
from watchd.emulator.faults import FaultConfigError
from watchd.emulator.snapshot import snapshot

PREFIX = "/_emulator"


def handle(ctx: Context, method: str, path: str, raw: bytes) -> tuple[int, Any]:
    """Return ``(status, json)`` for an admin request.

    Raises:
        EmulatorError: 404 unknown path, 405 wrong method, 400 bad faults document.
    """
    # POST /_emulator/playlinks {"assets": [ids]} makes a review link to those assets.
    if path == f"{PREFIX}/state" and method == "GET":
        return 200, snapshot(ctx)
    if path == f"{PREFIX}/health":
        return 200, {"ok": True}
    if path == f"{PREFIX}/playlinks" and method == "POST":
        return 200, {"playlink_id": add_playlink(ctx, raw)}
    if path != f"{PREFIX}/faults":
        raise EmulatorError(404, "UnknownEndpoint", f"no such admin endpoint: {path}")
    if method == "GET":
        return 200, ctx.faults.current()
    if method == "DELETE":
        return 200, ctx.faults.update({"reset": True})
    if method != "POST":
        raise EmulatorError(405, "MethodNotAllowed", "use GET, POST or DELETE")
    try:
        changes = json.loads(raw or b"{}")
        return 200, ctx.faults.update(changes)
    except (ValueError, FaultConfigError) as exc:
        raise EmulatorError(400, "InvalidFaults", str(exc)) from None


def add_playlink(ctx: Context, raw: bytes) -> int:
    """Make a review link from ``{"assets": [ids]}``; return its id. Raises EmulatorError 400."""
    try:
        doc = json.loads(raw or b"{}")
    except ValueError:
        doc = None
    assets = doc.get("assets") if isinstance(doc, dict) else None
    if not isinstance(assets, list) or not all(
        isinstance(a, int) and a in ctx.state.assets for a in assets
    ):
        raise EmulatorError(400, "InvalidParameter", "'assets' must list existing asset ids")
    return ctx.state.add_playlink(assets)
