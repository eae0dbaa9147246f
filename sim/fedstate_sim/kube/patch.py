"""PATCH bodies: JSON merge patch (RFC 7386), a strategic-merge subset, JSON patch (RFC 6902).

Strategic merge here is merge patch plus: lists of objects under well-known fields
(containers, env, ports, volumes, conditions...) merge item by item on their merge key
instead of being replaced, and the ``$patch: delete|replace`` directives are honoured.
That covers what clients typically send; it is not the full kube-apiserver algorithm.
"""

from __future__ import annotations

import copy
from typing import Any

from fedstate_sim.kube import errors

# field name → candidate merge keys, first one present in every item wins
MERGE_KEYS: dict[str, tuple[str, ...]] = {
    "containers": ("name",),
    "initContainers": ("name",),
    "ephemeralContainers": ("name",),
    "env": ("name",),
    "volumes": ("name",),
    "volumeMounts": ("mountPath", "name"),
    "volumeDevices": ("devicePath",),
    "ports": ("name", "containerPort", "port"),
    "imagePullSecrets": ("name",),
    "conditions": ("type",),
    "hostAliases": ("ip",),
    "topologySpreadConstraints": ("topologyKey",),
    "ownerReferences": ("uid",),
}
_DIRECTIVE_PREFIXES = ("$setElementOrder/", "$deleteFromPrimitiveList/", "$retainKeys")


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith(_DIRECTIVE_PREFIXES) or key == "$patch":
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and isinstance(result.get(key), list):
            result[key] = _merge_list(key, result[key], value)
        else:
            result[key] = strategic_merge_patch(result.get(key), value)
    return result


def _merge_key(field: str, old: list[Any], new: list[Any]) -> str | None:
    items = old + new
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    for candidate in MERGE_KEYS.get(field, ()):
        if all(candidate in item for item in items):
            return candidate
    return None


def _merge_list(field: str, old: list[Any], patch: list[Any]) -> list[Any]:
    key = _merge_key(field, old, patch)
    if key is None:
        return [_strip_directives(item) for item in patch]
    merged = list(old)
    index = {item[key]: i for i, item in enumerate(merged)}
    deleted: set[Any] = set()
    for item in patch:
        if item.get("$patch") == "delete":
            deleted.add(item[key])
        elif item[key] in index:
            merged[index[item[key]]] = strategic_merge_patch(merged[index[item[key]]], item)
        else:
            index[item[key]] = len(merged)
            merged.append(_strip_directives(item))
    return [item for item in merged if item[key] not in deleted]


def _strip_directives(item: Any) -> Any:
    if isinstance(item, dict):
        return {k: _strip_directives(v) for k, v in item.items() if not k.startswith("$")}
    return copy.deepcopy(item)


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902 add / remove / replace / move / copy / test."""
    if not isinstance(operations, list):
        raise errors.bad_request("a JSON patch must be a list of operations")
    doc = copy.deepcopy(target)
    for operation in operations:
        doc = _apply_operation(doc, operation)
    return doc


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise errors.bad_request(f"invalid JSON pointer {path!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _resolve(doc: Any, parts: list[str]) -> Any:
    for part in parts:
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


def _apply_operation(doc: Any, operation: dict[str, Any]) -> Any:
    op, parts = operation.get("op"), _pointer(operation.get("path", ""))
    try:
        if op == "test":
            if _resolve(doc, parts) != operation.get("value"):
                raise errors.ApiError(422, "Invalid", f"JSON patch test failed at {operation.get('path')}")
            return doc
        if op in ("move", "copy"):
            source = _pointer(operation.get("from", ""))
            value = copy.deepcopy(_resolve(doc, source))
            if op == "move":
                doc = _remove(doc, source)
            return _add(doc, parts, value)
        if op == "remove":
            return _remove(doc, parts)
        if op == "replace":
            return _add(_remove(doc, parts), parts, copy.deepcopy(operation.get("value")))
        if op == "add":
            return _add(doc, parts, copy.deepcopy(operation.get("value")))
    except (KeyError, IndexError, ValueError, TypeError) as exc:
        raise errors.ApiError(422, "Invalid", f"JSON patch {op} {operation.get('path')} failed: {exc}") from exc
    raise errors.bad_request(f"unknown JSON patch operation {op!r}")


def _add(doc: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    parent = _resolve(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, list):
        parent.insert(len(parent) if last == "-" else int(last), value)
    else:
        parent[last] = value
    return doc


def _remove(doc: Any, parts: list[str]) -> Any:
    if not parts:
        return None
    parent = _resolve(doc, parts[:-1])
    if isinstance(parent, list):
        del parent[int(parts[-1])]
    else:
        del parent[parts[-1]]
    return doc
