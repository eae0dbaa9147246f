"""Secret fields of user objects: hidden when an object is read back, kept when it is applied again.

A spec may carry passwords (``auth.rootPasswd``, a registry password). The bus keeps them, since the
orchestrator derives the members' credentials from them, but nothing a user reads shows them: the
gateway, the intake's reply and so the CLI print ``REDACTED`` instead. Applying such an object again
(``fedstate get -o yaml`` then ``fedstate apply``) keeps the stored value wherever the marker stands.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

REDACTED = "<redacted>"

# Per kind, the paths (in wire field names) of the spec fields that hold a secret.
SECRET_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "MultiCloudMongoDB": (("auth", "rootPasswd"), ("imageSetting", "imagePullSecret", "password")),
    "MongoDB": (("rootPassword",), ("imagePullSecret", "password")),
}


class RedactedWithoutValue(ValueError):
    """The marker stands where no value was stored: there is nothing to keep."""

    def __init__(self, path: tuple[str, ...]) -> None:
        self.field = ".".join(("spec", *path))
        super().__init__(f"{self.field}: {REDACTED!r} keeps a stored value, and none is stored; give the value")


def _parent(spec: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any] | None:
    node: Any = spec
    for key in path[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None


def _value(spec: dict[str, Any] | None, path: tuple[str, ...]) -> Any:
    parent = _parent(spec, path) if spec is not None else None
    return parent.get(path[-1]) if parent is not None else None


def redact(kind: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``spec`` with every secret field that holds a value replaced by the marker."""
    paths = [path for path in SECRET_PATHS.get(kind, ()) if _value(spec, path) is not None]
    if not paths:
        return spec
    hidden = copy.deepcopy(spec)
    for path in paths:
        parent = _parent(hidden, path)
        assert parent is not None
        parent[path[-1]] = REDACTED
    return hidden


def restore(kind: str, incoming: dict[str, Any], stored: dict[str, Any] | None) -> dict[str, Any]:
    """``incoming`` with the marker replaced by the stored value of the same field.

    Raises ``RedactedWithoutValue`` when the marker stands where nothing is stored.
    """
    paths = [path for path in SECRET_PATHS.get(kind, ()) if _value(incoming, path) == REDACTED]
    if not paths:
        return incoming
    kept = copy.deepcopy(incoming)
    for path in paths:
        value = _value(stored, path)
        if value is None or value == REDACTED:
            raise RedactedWithoutValue(path)
        parent = _parent(kept, path)
        assert parent is not None
        parent[path[-1]] = value
    return kept


def replace_secrets(kind: str, spec: dict[str, Any], change: Callable[[tuple[str, ...], str], str]) -> dict[str, Any]:
    """A copy of ``spec`` with ``change(path, value)`` in every secret field that holds a string (sealing,
    opening); ``spec`` itself when nothing changes."""
    changed = {
        path: new
        for path in SECRET_PATHS.get(kind, ())
        if isinstance(value := _value(spec, path), str) and (new := change(path, value)) != value
    }
    if not changed:
        return spec
    copied = copy.deepcopy(spec)
    for path, value in changed.items():
        parent = _parent(copied, path)
        assert parent is not None
        parent[path[-1]] = value
    return copied
