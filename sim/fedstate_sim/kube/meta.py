"""Small helpers for objects held as plain JSON-like dicts: copying, timestamps, names, owners.

Stored objects are immutable snapshots: the store never mutates a dict it has handed
out, so readers may keep references. Anyone changing an object works on ``clone(obj)``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]


class Clock:
    """Wall-clock time for timestamps; injectable so tests can pin it."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._second: tuple[int, str] = (-1, "")  # the last second formatted, reused within it

    def now(self) -> float:
        """Seconds since the epoch, as the timestamps this clock writes count them."""
        return self._now()

    def timestamp(self) -> str:
        """RFC 3339 seconds precision, like ``metav1.Time``."""
        second = int(self._now() // 1)
        if second != self._second[0]:
            self._second = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        return self._second[1]

    def timestamp_in(self, seconds: float) -> str:
        """The RFC 3339 time ``seconds`` from now (a terminating pod's ``deletionTimestamp``)."""
        return datetime.fromtimestamp(int((self._now() + seconds) // 1), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def micro_timestamp(self) -> str:
        """RFC 3339 microseconds, like ``metav1.MicroTime``."""
        return datetime.fromtimestamp(self._now(), UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def epoch_seconds(timestamp: str) -> float:
    """An RFC 3339 timestamp (``metav1.Time``) as seconds since the epoch."""
    return datetime.fromisoformat(timestamp).timestamp()


def clone(obj: Obj) -> Obj:
    """Deep copy of a JSON-like dict (about 3x faster than a JSON round trip or ``copy.deepcopy``)."""
    return _copy(obj)  # type: ignore[no-any-return]


def _copy(value: Any) -> Any:
    if type(value) is dict:
        return {key: _copy(item) for key, item in value.items()}
    if type(value) is list:
        return [_copy(item) for item in value]
    return value


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def new_uid() -> str:
    return str(uuid.uuid4())


def meta(obj: Obj) -> Obj:
    value = obj.get("metadata")
    return value if isinstance(value, dict) else {}


def name_of(obj: Obj) -> str:
    return str(meta(obj).get("name", ""))


def namespace_of(obj: Obj) -> str:
    return str(meta(obj).get("namespace") or "")


def uid_of(obj: Obj) -> str:
    return str(meta(obj).get("uid", ""))


def labels_of(obj: Obj) -> dict[str, str]:
    return meta(obj).get("labels") or {}


def owner_uids(obj: Obj) -> list[str]:
    return [ref.get("uid", "") for ref in meta(obj).get("ownerReferences") or []]


def owner_reference(owner: Obj, controller: bool = True) -> Obj:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": name_of(owner),
        "uid": uid_of(owner),
        "controller": controller,
        "blockOwnerDeletion": True,
    }


def spec_of(obj: Obj) -> Obj:
    value = obj.get("spec")
    return value if isinstance(value, dict) else {}


def status_of(obj: Obj) -> Obj:
    value = obj.get("status")
    return value if isinstance(value, dict) else {}


def condition(obj: Obj, kind: str) -> Obj | None:
    for cond in status_of(obj).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def set_condition(obj: Obj, new: Obj) -> None:
    """Put condition ``new`` in ``obj``'s status in place of the one of its type."""
    status = obj.setdefault("status", {})
    others = [c for c in status.get("conditions") or [] if c.get("type") != new["type"]]
    status["conditions"] = [*others, new]


def condition_true(obj: Obj, kind: str) -> bool:
    cond = condition(obj, kind)
    return cond is not None and cond.get("status") == "True"


def lookup(obj: Any, dotted: str) -> Any:
    """``lookup(pod, "spec.nodeName")``: follow a dotted path through dicts, None when absent."""
    for part in dotted.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj
