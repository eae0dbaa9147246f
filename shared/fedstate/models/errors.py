"""Turn pydantic validation errors into field-path messages a human can act on, in the API server's words.

``spec.export: expected an object, got boolean true``, ``spec.replicaset: expected an integer,
got string "3"``, ``spec.replicaSet: unknown field; did you mean spec.replicaset?``. Paths use the
wire (camelCase) names; given the model that was validated, union-branch labels are dropped from
paths and unknown fields get a suggestion from the names the model has at that place.
"""

from __future__ import annotations

import difflib
import inspect
import json
import re
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

Location = tuple[int | str, ...]

# pydantic error type -> what the value should have been (the JSON name of the type).
_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "bool_type": "a boolean",
    "bool_parsing": "a boolean",
    "string_type": "a string",
    "float_type": "a number",
    "float_parsing": "a number",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "dict_type": "an object",
    "list_type": "a list",
}
_BOUNDS = {
    "greater_than_equal": ("ge", "greater than or equal to"),
    "greater_than": ("gt", "greater than"),
    "less_than_equal": ("le", "less than or equal to"),
    "less_than": ("lt", "less than"),
}
_LONGEST_SHOWN = 40
# How alike an unknown field and a known one must be to suggest it: typos ("stroage", "spce", "resources")
# are, but "state" is not "storage" (difflib's default 0.6 would say it is).
_CLOSE_ENOUGH = 0.75


class FieldError(BaseModel):
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


def _shown(value: Any) -> str:
    """A value as an error message names it: its JSON type, and the value itself when it is short."""
    if isinstance(value, bool):
        return f"boolean {json.dumps(value)}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value!r}"
    if isinstance(value, str):
        text = value if len(value) <= _LONGEST_SHOWN else value[:_LONGEST_SHOWN] + "..."
        return f"string {json.dumps(text)}"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def _branch_label(annotation: Any) -> str:
    """How pydantic labels a union branch in an error location: the class name for classes."""
    return annotation.__name__ if inspect.isclass(annotation) else str(annotation)


def _step(annotation: Any, item: int | str) -> tuple[Any, bool] | None:
    """The annotation one location item further down, and whether the item was a union-branch label."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _step(get_args(annotation)[0], item)
    if origin in (Union, types.UnionType):
        branches = [a for a in get_args(annotation) if a is not type(None)]
        for branch in branches:
            if _branch_label(branch) == item and len(branches) > 1:
                return branch, True
        found = (_step(branch, item) for branch in branches)
        return next((step for step in found if step is not None), None)
    if origin in (list, tuple, set) and isinstance(item, int):
        return get_args(annotation)[0], False
    if origin is dict:
        return get_args(annotation)[1], False
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel) and isinstance(item, str):
        for name, field in annotation.model_fields.items():
            if item in (name, field.alias):
                return field.annotation, False
    return None


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _models_in(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return [m for a in get_args(annotation) for m in _models_in(a)]
    return [annotation] if inspect.isclass(annotation) and issubclass(annotation, BaseModel) else []


class _Walk:
    """A location resolved against the validated model: the user's path and the model found at its parent."""

    def __init__(self, model: type[BaseModel] | None, location: Location) -> None:
        self.parts: list[int | str] = []
        self.parent_models: list[type[BaseModel]] = []
        annotation: Any = model
        for index, item in enumerate(location):
            if index == len(location) - 1:
                self.parent_models = _models_in(annotation)
            step = _step(annotation, item) if annotation is not None else None
            if step is None:
                annotation = None
                if not _is_label(item):
                    self.parts.append(item)
                continue
            annotation, is_label = step
            if not is_label:
                self.parts.append(item)

    @property
    def path(self) -> str:
        return _joined(self.parts)


def _is_label(item: int | str) -> bool:
    """Without a model to walk: pydantic's validator labels say nothing to a user."""
    return isinstance(item, str) and ("[" in item or item.startswith("function-"))


def _joined(parts: list[int | str]) -> str:
    text = ""
    for item in parts:
        text += f"[{item}]" if isinstance(item, int) else ("." if text else "") + item
    return text


def _suggestion(walk: _Walk) -> str:
    if not walk.parts or not isinstance(walk.parts[-1], str):
        return ""
    names = {(field.alias or name): None for m in walk.parent_models for name, field in m.model_fields.items()}
    by_lower = {name.lower(): name for name in names}
    close = difflib.get_close_matches(walk.parts[-1].lower(), list(by_lower), n=1, cutoff=_CLOSE_ENOUGH)
    if not close:
        return ""
    return f"; did you mean {_joined([*walk.parts[:-1], by_lower[close[0]]])}?"


def unsupported(value: Any, supported: list[str]) -> str:
    """``unsupported value "Keep"; supported values: "Retain", "Delete"``, as the API server says it."""
    shown = json.dumps(value) if isinstance(value, str) else _shown(value)
    return f"unsupported value {shown}; supported values: {', '.join(json.dumps(s) for s in supported)}"


def _message(error: dict[str, Any], walk: _Walk) -> str:
    kind, value, context = str(error.get("type", "")), error.get("input"), error.get("ctx") or {}
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {_shown(value)}"
    if kind == "missing":
        return "required"
    if kind == "extra_forbidden":
        return "unknown field" + _suggestion(walk)
    if kind in ("literal_error", "enum"):
        return unsupported(value, re.findall(r"'([^']*)'", str(context.get("expected", ""))))
    if kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        return f"must be {words} {context.get(key)}, got {value}"
    return str(error.get("msg", "")).removeprefix("Value error, ")


def _merged(messages: list[str]) -> str:
    """The branches of a union that all want another type: ``expected a string or an object, got ...``."""
    if len(messages) < 2 or not all(m.startswith("expected ") and ", got " in m for m in messages):
        return messages[0]
    wanted = [m.removeprefix("expected ").partition(", got ") for m in messages]
    return f"expected {' or '.join(dict.fromkeys(w for w, _, _ in wanted))}, got {wanted[0][2]}"


def field_errors(exc: ValidationError, model: type[BaseModel] | None = None) -> list[FieldError]:
    """One entry per distinct field path, e.g. ``spec.resource.limits.cpu: '2x' is not a Kubernetes quantity``.

    ``model``, the class that was validated, lets paths drop union-branch labels and unknown fields
    suggest a known name; a type mismatch on a union is dropped when a branch got further inside.
    """
    by_path: dict[str, list[str]] = {}
    for error in exc.errors():
        walk = _Walk(model, tuple(error["loc"]))
        by_path.setdefault(walk.path, []).append(_message(dict(error), walk))
    deeper = {path for path in by_path for other in by_path if path and other.startswith((path + ".", path + "["))}
    found: list[FieldError] = []
    for path, messages in by_path.items():
        kept = [m for m in messages if not (path in deeper and m.startswith("expected "))]
        if kept:
            found.append(FieldError(field=path, message=_merged(kept)))
    return found


def describe(exc: ValidationError, model: type[BaseModel] | None = None) -> str:
    return "; ".join(str(e) for e in field_errors(exc, model))
