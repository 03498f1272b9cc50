"""Run-time settings and injected faults: latency, bandwidth cap, lifetimes,
processing delays, the answer to a repeated upload init, and per-endpoint
failure rules.

The JSON shape (also accepted by ``POST /_emulator/faults``, which merges it)::

    {"latency_ms": 0, "bandwidth_bytes_per_s": null, "token_lifetime_s": null,
     "url_lifetime_s": 300, "processing_delay_s": 2, "download_processing_s": 1,
     "seed": null, "init_same_uuid": "new", "tasks_path": "messages",
     "update_asset_metadata": "merge", "original_files": "one",
     "rules": [{"endpoint": "/upload/asset/part", "status": 503, "rate": 1.0,
                "count": 2, "retry_after": 1, "reset": false, "after": false,
                "latency_ms": 0, "answer_false": false}]}

``rules`` replaces the whole list; a key set to null returns to its default;
``{"reset": true}`` restores the configuration the emulator started with.
Endpoint patterns are API paths (``/get/assets``), ``s3:PUT`` style S3
methods, or shell-style patterns (``*``, ``s3:*``, ``/upload/*``).

A rule fails a request before it is handled, unless ``"after": true``: then
the request takes full effect first (the endpoint runs, an S3 part is
stored) and the fault replaces its success answer, as when a reply is lost
on the way back: ``reset`` drops the connection with a TCP reset, ``status``
sends that error instead. Such a rule needs ``status`` or ``reset``; it is
spent (``count``) only by a request that succeeded (a 2xx answer), and a
failed request gets its real error. The ``rate`` die is cast when the
request arrives; latency applies before handling, as for every rule. Rules
are tried in order and the first failing rule that fires decides, whether it
acts before or after.

A rule with ``"answer_false": true`` (on ``/complete/upload``,
``/update/asset`` or ``/delete/comment`` only) answers 200 with the
endpoint's result flag false (``{"ok": false}``, ``{"updated": false}``,
``{"deleted": false}``) after the token is checked, and the endpoint does
nothing: the document's booleans can say no.

``init_same_uuid`` decides what a second ``/upload/asset/init`` with the
``uuid`` of an upload that is still open gets: ``"new"`` another, separate
upload (the first stays open, as S3's CreateMultipartUpload is not
idempotent), ``"resume"`` the open upload's ``upload_id`` and ``key`` again
(when user, project and filename match; otherwise 409 ``DuplicateUuid``),
``"refuse"`` 409 ``DuplicateUuid``. A uuid that already belongs to an asset
is 409 ``DuplicateUuid`` in every mode. (Not a fault as such, but a choice
between plausible server behaviours, so it is set the same way.)

``tasks_path`` picks the spelling of the task endpoint the emulator serves,
``"messages"`` (``/get/tasks/messages``) or ``"message"``
(``/get/tasks/message``): the document uses both. The other answers 404
``UnknownEndpoint``.

``update_asset_metadata`` decides what the keys of an ``/update/asset`` do to
the asset's metadata: ``"merge"`` sets them and keeps the others,
``"replace"`` makes them the whole metadata. In both a key sent as null is
cleared, and ``tags`` replaces the tag list.

``uuid_field`` decides whether the ``uuid`` an uploader sends with init and
complete is ``"honoured"`` (the asset gets it; a repeat is a duplicate) or
``"ignored"``, as by a service that does not know the field (the field name
is our guess): every asset then gets a uuid of the emulator's own.

``original_files: "with_sidecar"`` makes ORIGINAL a multi-file category:
``/download/assets/direct`` answers two ``successful_processes`` for it (the
clip and an XML sidecar, with ``path`` values in a folder named after the
clip); ``"one"`` answers the clip alone, its ``path`` its file name.
"""

from __future__ import annotations

import fnmatch
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from watchd.emulator.wire import RESULT_FLAGS, TASKS_PATHS

DEFAULTS: dict[str, Any] = {
    "latency_ms": 0,  # added before every API and S3 request, and once per new connection
    "bandwidth_bytes_per_s": None,  # shared cap on S3 body bytes, both directions
    "token_lifetime_s": None,  # None: tokens never expire
    "url_lifetime_s": 300,  # presigned URL lifetime (the vendor's five minutes)
    "processing_delay_s": 2.0,  # /complete/upload until assets are visible
    "download_processing_s": 1.0,  # proxy download tasks stay "processing" this long
    "seed": None,  # seed of the random generator that decides rule rates
    "init_same_uuid": "new",  # a second init with an open upload's uuid: new|resume|refuse
    "tasks_path": "messages",  # the task endpoint served: /get/tasks/messages|message
    "update_asset_metadata": "merge",  # /update/asset keys: merge into or replace metadata
    "uuid_field": "honoured",  # the uploader's uuid on init/complete: honoured|ignored
    "original_files": "one",  # ORIGINAL downloads as one file or as with_sidecar (two)
}
_NULLABLE = {"bandwidth_bytes_per_s", "token_lifetime_s", "seed"}
_CHOICES = {
    "init_same_uuid": ("new", "resume", "refuse"),
    "tasks_path": tuple(TASKS_PATHS),
    "update_asset_metadata": ("merge", "replace"),
    "uuid_field": ("honoured", "ignored"),
    "original_files": ("one", "with_sidecar"),
}
_RULE_KEYS = {
    "endpoint", "status", "rate", "count", "retry_after", "reset", "after", "latency_ms",
    "answer_false",
}  # fmt: skip


class FaultConfigError(ValueError):
    """A faults document is invalid; the message names the key."""


@dataclass
class Rule:
    """One per-endpoint fault rule."""

    endpoint: str
    status: int | None = None
    rate: float = 1.0
    count: int | None = None  # fire only this many more times, then the rule is spent
    retry_after: float | None = None
    reset: bool = False
    after: bool = False  # the request takes effect, then the fault replaces its answer
    latency_ms: float = 0.0
    answer_false: bool = False  # answer 200 with the endpoint's result flag false

    @property
    def fails(self) -> bool:
        """True when the rule changes the answer (not only its timing)."""
        return self.status is not None or self.reset or self.answer_false

    def to_json(self) -> dict[str, Any]:
        """Return the rule in the faults JSON shape."""
        return {k: getattr(self, k) for k in sorted(_RULE_KEYS)}


@dataclass(frozen=True)
class Action:
    """What to do to one request: wait, then maybe fail or reset the connection.

    With ``after`` the failure replaces the success answer once the request has
    been handled, if :meth:`Faults.fire_after` still allows it.
    """

    latency_s: float = 0.0
    status: int | None = None
    retry_after: float | None = None
    reset: bool = False
    after: bool = False
    answer_false: bool = False
    rule: Rule | None = field(default=None, compare=False, repr=False)  # spent by fire_after


def _number(value: Any, key: str, nullable: bool) -> float | None:
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise FaultConfigError(f"{key}: must be a non-negative number")
    return float(value)


def parse_rule(item: Any, key: str) -> Rule:
    """Return a validated rule from its JSON form."""
    if not isinstance(item, dict):
        raise FaultConfigError(f"{key}: must be an object")
    unknown = set(item) - _RULE_KEYS
    if unknown:
        raise FaultConfigError(f"{key}.{sorted(unknown)[0]}: unknown key")
    endpoint = item.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        raise FaultConfigError(f"{key}.endpoint: required string")
    status = item.get("status")
    if status is not None and (not isinstance(status, int) or not 400 <= status <= 599):
        raise FaultConfigError(f"{key}.status: must be an HTTP error status 400-599")
    rate = _number(item.get("rate", 1.0), f"{key}.rate", False)
    if rate is None or rate > 1:
        raise FaultConfigError(f"{key}.rate: must be between 0 and 1")
    after = item.get("after", False)
    if not isinstance(after, bool):
        raise FaultConfigError(f"{key}.after: must be true or false")
    count = item.get("count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 0):
        raise FaultConfigError(f"{key}.count: must be a non-negative integer")
    answer_false = item.get("answer_false", False)
    if not isinstance(answer_false, bool):
        raise FaultConfigError(f"{key}.answer_false: must be true or false")
    if answer_false and endpoint not in RESULT_FLAGS:
        raise FaultConfigError(f"{key}.answer_false: only for {', '.join(sorted(RESULT_FLAGS))}")
    if answer_false and (status is not None or item.get("reset") or after):
        raise FaultConfigError(f"{key}.answer_false: cannot be combined with status, reset, after")
    rule = Rule(
        endpoint=endpoint,
        status=status,
        rate=rate,
        count=count,
        retry_after=_number(item.get("retry_after"), f"{key}.retry_after", True),
        reset=bool(item.get("reset", False)),
        after=after,
        latency_ms=_number(item.get("latency_ms", 0), f"{key}.latency_ms", False) or 0.0,
        answer_false=answer_false,
    )
    if not rule.fails and not rule.latency_ms:
        raise FaultConfigError(
            f"{key}: needs at least one of status, reset, answer_false or latency_ms"
        )
    if rule.after and rule.status is None and not rule.reset:
        raise FaultConfigError(f"{key}.after: needs status or reset")
    return rule


class Faults:
    """Thread-safe current settings and rules, with a seedable random generator."""

    def __init__(self, initial: dict[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self._settings: dict[str, Any] = dict(DEFAULTS)
        self._rules: list[Rule] = []
        self._random = random.Random()
        self._initial: dict[str, Any] = self.current()
        self.update(initial or {})
        self._initial = self.current()

    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Merge ``changes`` (validated first, so a bad document changes nothing).

        Returns the resulting configuration. Raises FaultConfigError.
        """
        if not isinstance(changes, dict):
            raise FaultConfigError("faults: must be a JSON object")
        changes = dict(changes)
        if changes.pop("reset", False):
            self.update({**self._initial, "rules": self._initial["rules"]})
        settings, rules = self._validated(changes)
        with self._lock:
            self._settings.update(settings)
            if rules is not None:
                self._rules = rules
            if "seed" in settings:
                self._random.seed(settings["seed"])
        return self.current()

    def _validated(self, changes: dict[str, Any]) -> tuple[dict[str, Any], list[Rule] | None]:
        settings: dict[str, Any] = {}
        for key, value in changes.items():
            if key == "rules":
                continue
            if key not in DEFAULTS:
                raise FaultConfigError(f"{key}: unknown key")
            if value is None:
                settings[key] = DEFAULTS[key]
            elif key == "seed":
                if isinstance(value, bool) or not isinstance(value, int):
                    raise FaultConfigError("seed: must be an integer")
                settings[key] = value
            elif key in _CHOICES:
                if value not in _CHOICES[key]:
                    raise FaultConfigError(f"{key}: must be one of {', '.join(_CHOICES[key])}")
                settings[key] = value
            else:
                settings[key] = _number(value, key, key in _NULLABLE)
        rules = None
        if "rules" in changes:
            items = changes["rules"] if changes["rules"] is not None else []
            if not isinstance(items, list):
                raise FaultConfigError("rules: must be a list")
            rules = [parse_rule(item, f"rules[{i}]") for i, item in enumerate(items)]
        return settings, rules

    def current(self) -> dict[str, Any]:
        """Return the configuration in its JSON shape (rules show remaining counts)."""
        with self._lock:
            return {**self._settings, "rules": [r.to_json() for r in self._rules]}

    def get(self, key: str) -> Any:
        """Return one setting (a key of :data:`DEFAULTS`)."""
        with self._lock:
            return self._settings[key]

    def decide(self, endpoint: str) -> Action:
        """Return what to do to one request to ``endpoint``.

        Counts of rules acting before handling are spent here; an ``after``
        rule's count is spent by :meth:`fire_after`.
        """
        with self._lock:
            latency = float(self._settings["latency_ms"]) / 1000.0
            failing: Rule | None = None
            for rule in self._rules:
                is_failure = rule.fails
                if is_failure and failing is not None:
                    continue
                if not self._fires(rule, endpoint, spend=not rule.after):
                    continue
                latency += rule.latency_ms / 1000.0
                if is_failure:
                    failing = rule
        if failing is None:
            return Action(latency_s=latency)
        return Action(
            latency,
            failing.status,
            failing.retry_after,
            failing.reset,
            failing.after,
            failing.answer_false,
            failing,
        )

    def fire_after(self, action: Action) -> bool:
        """Return True when ``action``'s after-fault is to replace a success answer.

        Spends one of the rule's count; False when the action has no
        after-fault, the rule was spent meanwhile (by a concurrent request) or
        the rules were replaced while the request was handled.
        """
        rule = action.rule
        if not action.after or rule is None:
            return False
        with self._lock:
            if not any(r is rule for r in self._rules):
                return False
            if rule.count is not None:
                if rule.count <= 0:
                    return False
                rule.count -= 1
        return True

    def _fires(self, rule: Rule, endpoint: str, spend: bool) -> bool:
        if not fnmatch.fnmatchcase(endpoint, rule.endpoint):
            return False
        if rule.count is not None and rule.count <= 0:
            return False
        if rule.rate < 1.0 and self._random.random() >= rule.rate:
            return False
        if spend and rule.count is not None:
            rule.count -= 1
        return True


class Throttle:
    """A bandwidth cap shared by all connections: each chunk books its slot in
    one timeline, so N connections together get the configured rate."""

    def __init__(self, faults: Faults, stop: threading.Event) -> None:
        self._faults = faults
        self._stop = stop
        self._lock = threading.Lock()
        self._next = 0.0

    def chunk_size(self, default: int) -> int:
        """Return the read size to use: smaller under a cap so waits stay short."""
        rate = self._faults.get("bandwidth_bytes_per_s")
        if not rate:
            return default
        return max(16 * 1024, min(default, int(rate / 10)))

    def consume(self, nbytes: int) -> None:
        """Block until ``nbytes`` may pass under the current cap (no cap: return)."""
        rate = self._faults.get("bandwidth_bytes_per_s")
        if not rate or nbytes <= 0:
            return
        with self._lock:
            now = time.monotonic()
            self._next = max(now, self._next) + nbytes / float(rate)
            wait = self._next - now
        if wait > 0:
            self._stop.wait(wait)
