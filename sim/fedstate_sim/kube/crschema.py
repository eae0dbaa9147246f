"""A custom resource against its CRD's ``openAPIV3Schema``, as apiextensions-apiserver treats it on every write.

In order: **pruning** (fields the schema does not name are dropped, unless the level says
``x-kubernetes-preserve-unknown-fields: true`` or has ``additionalProperties``; ``null`` where the
schema is not ``nullable`` is dropped too), **defaulting** (``default`` of absent fields), then
**validation**: ``type`` (and ``x-kubernetes-int-or-string``), ``nullable``, ``required``, ``enum``,
``minimum``/``maximum`` (exclusive or not), ``minLength``/``maxLength``/``pattern``,
``minItems``/``maxItems``, ``minProperties``/``maxProperties``, through ``properties``,
``additionalProperties`` and ``items``. Errors use kube-openapi's words with the field path
(``spec.members: Invalid value: "string": spec.members in body must be of type integer: "string"``).
Not evaluated: ``allOf``/``anyOf``/``oneOf``/``not``, ``format``, CEL ``x-kubernetes-validations``,
list-type uniqueness; metadata of embedded resources is kept as it is.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from fedstate_sim.kube.errors import INVALID, NOT_SUPPORTED, REQUIRED, TOO_MANY, TYPE_INVALID, FieldError, go_value
from fedstate_sim.kube.meta import Obj

Schema = dict[str, Any]
_ALWAYS_KEPT = ("apiVersion", "kind", "metadata")


def prune(obj: Obj, schema: Schema) -> None:
    """Drop, in place, what the schema does not allow to be stored (the root keeps apiVersion, kind, metadata)."""
    _prune_object(obj, schema, kept=_ALWAYS_KEPT)


def prune_value(value: Any, schema: Schema) -> None:
    """``prune`` for any value below the root."""
    if isinstance(value, dict):
        _prune_object(value, schema, kept=_ALWAYS_KEPT if schema.get("x-kubernetes-embedded-resource") else ())
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            prune_value(item, schema["items"])


def _prune_object(value: Obj, schema: Schema, kept: tuple[str, ...]) -> None:
    properties = schema.get("properties") or {}
    extra = schema.get("additionalProperties")
    keep_unknown = schema.get("x-kubernetes-preserve-unknown-fields") is True or extra is True
    for key in list(value):
        child = properties.get(key, extra if isinstance(extra, dict) else None)
        if key in kept:
            continue
        if child is None:
            if not keep_unknown:
                del value[key]
        elif value[key] is None and not child.get("nullable"):
            del value[key]
        else:
            prune_value(value[key], child)


def default(value: Any, schema: Schema) -> None:
    """Fill in, in place, the ``default`` of every absent field whose parent object is there."""
    if isinstance(value, dict):
        for key, child in (schema.get("properties") or {}).items():
            if key not in value and "default" in child:
                value[key] = copy.deepcopy(child["default"])
            if key in value:
                default(value[key], child)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key in set(value) - set(schema.get("properties") or {}):
                default(value[key], extra)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            default(item, schema["items"])


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    return {float: "number", str: "string", list: "array", dict: "object"}.get(type(value), "object")


def _has_type(value: Any, wanted: str, schema: Schema) -> bool:
    actual = json_type(value)
    if schema.get("x-kubernetes-int-or-string"):
        return actual in ("integer", "string")
    return actual == wanted or (wanted == "number" and actual == "integer")


def errors_of(value: Any, schema: Schema, path: str = "") -> list[FieldError]:
    """Every schema violation of ``value`` at ``path`` and below."""
    if value is None:
        return [] if schema.get("nullable") else [_type_error(path, schema.get("type", "object"), value)]
    wanted = schema.get("type") or ("object" if "properties" in schema else "")
    if (wanted or schema.get("x-kubernetes-int-or-string")) and not _has_type(value, wanted, schema):
        return [_type_error(path, wanted or "int-or-string", value)]
    found = _enum_errors(value, schema, path)
    if isinstance(value, dict):
        found += _object_errors(value, schema, path)
    elif isinstance(value, list):
        found += _array_errors(value, schema, path)
    elif isinstance(value, str):
        found += _string_errors(value, schema, path)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        found += _number_errors(value, schema, path)
    return found


def _type_error(path: str, wanted: str, value: Any) -> FieldError:
    actual = json_type(value)
    return FieldError(TYPE_INVALID, path, f'{path} in body must be of type {wanted}: "{actual}"', actual)


def _enum_errors(value: Any, schema: Schema, path: str) -> list[FieldError]:
    allowed = schema.get("enum")
    if not allowed or value in allowed:
        return []
    return [FieldError(NOT_SUPPORTED, path, "supported values: " + ", ".join(go_value(v) for v in allowed), value)]


def _object_errors(value: Obj, schema: Schema, path: str) -> list[FieldError]:
    at = f"{path}." if path else ""
    found = [FieldError(REQUIRED, f"{at}{key}") for key in schema.get("required") or [] if key not in value]
    found += _bound_errors(
        len(value), schema, "minProperties", "maxProperties", path, "should have at least {} properties"
    )
    properties, extra = schema.get("properties") or {}, schema.get("additionalProperties")
    for key, child in value.items():
        child_schema = properties.get(key, extra if isinstance(extra, dict) else None)
        if child_schema is not None and not (not path and key in _ALWAYS_KEPT):
            found += errors_of(child, child_schema, f"{at}{key}")
    return found


def _array_errors(value: list[Any], schema: Schema, path: str) -> list[FieldError]:
    found = _bound_errors(len(value), schema, "minItems", "maxItems", path, "should have at least {} items")
    items = schema.get("items")
    if isinstance(items, dict):
        for index, item in enumerate(value):
            found += errors_of(item, items, f"{path}[{index}]")
    return found


def _bound_errors(size: int, schema: Schema, low: str, high: str, path: str, too_few: str) -> list[FieldError]:
    if low in schema and size < schema[low]:
        return [FieldError(INVALID, path, f"{path} in body {too_few.format(schema[low])}", size)]
    if high in schema and size > schema[high]:
        noun = "items" if high == "maxItems" else "properties"
        return [FieldError(TOO_MANY, path, f"must have at most {schema[high]} {noun}", size)]
    return []


def _string_errors(value: str, schema: Schema, path: str) -> list[FieldError]:
    found = []
    if "minLength" in schema and len(value) < schema["minLength"]:
        found.append(
            FieldError(INVALID, path, f"{path} in body should be at least {schema['minLength']} chars long", value)
        )
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        found.append(
            FieldError(INVALID, path, f"{path} in body should be at most {schema['maxLength']} chars long", value)
        )
    if "pattern" in schema and not re.search(schema["pattern"], value):
        found.append(FieldError(INVALID, path, f"{path} in body should match '{schema['pattern']}'", value))
    return found


def _number_errors(value: float, schema: Schema, path: str) -> list[FieldError]:
    found = []
    if "minimum" in schema:
        exclusive = schema.get("exclusiveMinimum") is True
        if value < schema["minimum"] or (exclusive and value == schema["minimum"]):
            relation = "greater than" if exclusive else "greater than or equal to"
            found.append(FieldError(INVALID, path, f"{path} in body should be {relation} {schema['minimum']}", value))
    if "maximum" in schema:
        exclusive = schema.get("exclusiveMaximum") is True
        if value > schema["maximum"] or (exclusive and value == schema["maximum"]):
            relation = "less than" if exclusive else "less than or equal to"
            found.append(FieldError(INVALID, path, f"{path} in body should be {relation} {schema['maximum']}", value))
    return found
