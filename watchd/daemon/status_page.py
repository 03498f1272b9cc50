"""The status page: a read-only HTML page on the local listener, and its JSON.

``/`` is the whole page, rendered here; ``/status/body`` is the same body
alone, which the page's few lines of JavaScript fetch every second and put in
place (one renderer, no template on the browser side); ``/status.json`` is
the document both are made from. The document is the daemon's latest status
report (folders, health, the cap in force) with live transfers and fresh
counts from the database, copied key by key: nothing secret (API key, tokens,
presigned URLs, the database URL) can reach it, because nothing is copied
that is not named here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from watchd.base.names import printable
from watchd.daemon.bandwidth_control import CONFIGURED
from watchd.daemon.transfer_view import duration_text, eta_seconds, percent, rate_text
from watchd.store.database import Database
from watchd.store.leases import nodes
from watchd.store.queries import job_counts, open_batches, recent_errors

REFRESH_MILLISECONDS = 1000  # how often the page asks for a new body
HTML = "text/html; charset=utf-8"
JSON = "application/json"
FOLDER_KEYS = ("name", "path", "project", "health", "message", "settling")
BANDWIDTH_KEYS = ("cap", "source", "until", "timezone", "folders")


@dataclass
class PageSources:
    """Where the page's figures come from."""

    report: Callable[[], dict[str, Any] | None]  # the latest status report, None before it
    transfers: Callable[[], list[dict[str, Any]]]  # the transfer board's snapshot
    db: Database
    node_lease: float | None = None  # seconds, when nodes share a PostgreSQL database


def page_document(sources: PageSources) -> dict[str, Any]:
    """Return what the page shows, as a JSON-ready dict (nothing secret in it)."""
    report = sources.report() or {}
    bandwidth = report.get("bandwidth") or {}
    doc: dict[str, Any] = {
        "generated_at": time.time(),
        "version": report.get("version"),
        "summary": report.get("summary", "starting"),
        "problems": dict(report.get("problems", {})),
        "folders": [
            {key: folder.get(key) for key in FOLDER_KEYS}
            | {"problems": [dict(p) for p in folder.get("problems", [])]}
            for folder in report.get("folders", [])
        ],
        "transfers": [_transfer(t) for t in sources.transfers()],
        "bandwidth": {key: bandwidth.get(key) for key in BANDWIDTH_KEYS} if bandwidth else None,
    }
    doc.update(_from_database(sources))
    return doc


def _transfer(t: dict[str, Any]) -> dict[str, Any]:
    keys = ("job", "folder", "file", "bytes_done", "bytes_total", "rate_bytes_per_second")
    row = {key: t[key] for key in keys}
    row["file"] = printable(row["file"])
    return row | {"percent": round(percent(t), 1), "eta_seconds": eta_seconds(t)}


def _from_database(sources: PageSources) -> dict[str, Any]:
    try:
        with sources.db.reading(display=True) as session:
            counts = job_counts(session)
            batches = [
                {k: b[k] for k in ("folder", "name", "state", "files", "opened_at")}
                for b in open_batches(session)
            ]
            errors = [
                {k: e[k] for k in ("job", "folder", "state", "attempts", "error", "at")}
                | {"file": printable(e["file"])}
                for e in recent_errors(session)
            ]
        lease = sources.node_lease
        shared = [] if lease is None else [_node(n, lease) for n in nodes(sources.db)]
    except SQLAlchemyError:
        return {"database": "unreadable (see watchd status)", "jobs": {}, "open_batches": [],
                "recent_errors": [], "nodes": []}  # fmt: skip
    return {
        "database": "ok",
        "jobs": counts,
        "open_batches": batches,
        "recent_errors": errors,
        "nodes": shared,
    }


def _node(node: Any, lease: float) -> dict[str, Any]:
    silent = node.seconds_since_heartbeat > lease
    state = "stopped" if node.stopped_at is not None else ("silent" if silent else "running")
    return {
        "name": node.name,
        "host": node.host,
        "state": state,
        "heartbeat_seconds_ago": round(node.seconds_since_heartbeat, 1),
        "jobs_held": node.jobs_held,
        "folders_watched": list(node.folders_held),
    }


# --- HTML --------------------------------------------------------------------------------


def render_body(doc: dict[str, Any]) -> str:
    """Return the page's body (the part the page refreshes) as HTML."""
    parts = [
        f'<p id="summary">{_e(doc["summary"])}</p>',
        _bandwidth(doc["bandwidth"]),
        _problems(doc["problems"], doc["database"]),
        _folders(doc["folders"]),
        _transfers(doc["transfers"]),
        _counts(doc["jobs"]),
        _batches(doc["open_batches"]),
        _errors(doc["recent_errors"]),
        _nodes(doc["nodes"]),
        f'<p class="small">watchd {_e(doc["version"] or "")} · '
        f"{time.strftime('%H:%M:%S', time.localtime(doc['generated_at']))}</p>",
    ]
    return "\n".join(p for p in parts if p)


def render_page(doc: dict[str, Any]) -> str:
    """Return the whole page: the body, a little CSS, and the script that refreshes it."""
    return PAGE.format(body=render_body(doc), refresh=REFRESH_MILLISECONDS)


def _e(value: Any) -> str:
    return escape(str(value))


def _table(section: str, head: list[str], rows: list[list[str]]) -> str:
    header = "".join(f"<th>{_e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table id="{section}"><tr>{header}</tr>{body}</table>'


def _bandwidth(cap: dict[str, Any] | None) -> str:
    if not cap:
        return ""
    until = f" until {_e(cap['until'])}" if cap.get("until") else ""
    zone = "" if cap.get("source") == CONFIGURED else f", {_e(cap['timezone'])}"
    folders = "".join(f"; folder {_e(n)}: {_e(c)}" for n, c in (cap.get("folders") or {}).items())
    return (
        f'<p id="bandwidth">Uploads: <b>{_e(cap["cap"])}</b> '
        f"({_e(cap['source'])}{until}{zone}){folders}</p>"
    )


def _problems(problems: dict[str, str], database: str) -> str:
    items = [f"<li>{_e(name)}: {_e(text)}</li>" for name, text in problems.items()]
    if database != "ok":
        items.insert(0, f"<li>database: {_e(database)}</li>")
    return f'<h2>Problems</h2><ul id="problems">{"".join(items)}</ul>' if items else ""


def _folders(folders: list[dict[str, Any]]) -> str:
    rows = []
    for f in folders:
        note = _e(f["message"] or "")
        note += "".join(
            f"<br>cannot take {_e(p['file'])}: {_e(p['reason'])}" for p in f["problems"]
        )
        health = f'<span class="{"ok" if f["health"] == "ok" else "bad"}">{_e(f["health"])}</span>'
        rows.append([_e(f["name"]), health, _e(f["path"]), _e(f["settling"] or 0), note])
    return "<h2>Folders</h2>" + _table(
        "folders", ["folder", "health", "path", "settling", ""], rows
    )


def _transfers(transfers: list[dict[str, Any]]) -> str:
    if not transfers:
        return '<h2>Uploading</h2><p id="transfers">Nothing in flight.</p>'
    rows = []
    for t in transfers:
        bar = f'<progress max="100" value="{t["percent"]}"></progress> {t["percent"]:.1f}%'
        rate, eta = rate_text(t), duration_text(t["eta_seconds"])
        rows.append([_e(t["job"]), _e(t["folder"]), _e(t["file"]), bar, rate, eta])
    return "<h2>Uploading</h2>" + _table(
        "transfers", ["job", "folder", "file", "progress", "rate", "time left"], rows
    )


def _counts(jobs: dict[str, int]) -> str:
    shown = [f'<span class="count" id="count-{_e(s)}">{n} {_e(s)}</span>' for s, n in jobs.items()]
    return f'<h2>Files</h2><p id="counts">{" · ".join(shown) or "none yet"}</p>'


def _batches(batches: list[dict[str, Any]]) -> str:
    if not batches:
        return ""
    rows = [[_e(b["folder"]), _e(b["name"]), _e(b["state"]), _e(b["files"])] for b in batches]
    return "<h2>Open batches</h2>" + _table("batches", ["folder", "batch", "state", "files"], rows)


def _errors(errors: list[dict[str, Any]]) -> str:
    if not errors:
        return ""
    rows = [
        [_e(e["at"]), _e(e["job"]), _e(e["state"]), _e(e["file"]), _e(e["error"])] for e in errors
    ]
    return "<h2>Recent errors</h2>" + _table(
        "errors", ["at", "job", "state", "file", "error"], rows
    )


def _nodes(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    cells = [
        [
            _e(n["name"]),
            _e(n["state"]),
            _e(n["host"]),
            f"{n['heartbeat_seconds_ago']:.0f}s ago",
            _e(n["jobs_held"]),
            _e(", ".join(n["folders_watched"]) or "-"),
        ]
        for n in rows
    ]
    head = ["node", "state", "host", "heartbeat", "jobs held", "watching"]
    return "<h2>Nodes (sharing the database)</h2>" + _table("nodes", head, cells)


def json_body(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, indent=1).encode()


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>watchd status</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 1em 2em; color: #222; }}
h1 {{ font-size: 1.3em; }} h2 {{ font-size: 1.05em; margin: 1.2em 0 .3em; }}
table {{ border-collapse: collapse; }} td, th {{ padding: 2px 10px 2px 0; text-align: left; }}
th {{ color: #666; font-weight: normal; }} progress {{ width: 12em; }}
.ok {{ color: #176617; }} .bad {{ color: #b00; font-weight: bold; }}
.small, #stale {{ color: #888; font-size: .9em; }}
</style></head>
<body><h1>watchd</h1><p id="stale"></p>
<div id="status">{body}</div>
<script>
// Fetch the freshly rendered body every second; say so when the daemon stops answering.
async function refresh() {{
  try {{
    const answer = await fetch("/status/body", {{cache: "no-store"}});
    if (!answer.ok) throw new Error("HTTP " + answer.status);
    document.getElementById("status").innerHTML = await answer.text();
    document.getElementById("stale").textContent = "";
  }} catch (e) {{
    document.getElementById("stale").textContent = "watchd is not answering (" + e.message + ")";
  }}
}}
setInterval(refresh, {refresh});
</script></body></html>
"""


def routes(
    metrics: Callable[[], tuple[str, bytes]], sources: PageSources
) -> dict[str, Callable[[], tuple[str, bytes]]]:
    """Return the listener's paths: the page, its body, its JSON, and /metrics."""
    return {
        "/": lambda: (HTML, render_page(page_document(sources)).encode()),
        "/status/body": lambda: (HTML, render_body(page_document(sources)).encode()),
        "/status.json": lambda: (JSON, json_body(page_document(sources))),
        "/metrics": metrics,
    }
