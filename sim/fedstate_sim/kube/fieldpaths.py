"""Field paths as server-side apply names them (structured-merge-diff, simplified): the paths an object
sets with their values (``flatten``), the ``FieldsV1`` encoding of a set of paths, removing a path, and the
merge of an applied configuration into a live object.

A path is a tuple of ``FieldsV1`` elements: ``f:<field>`` for a map field, ``k:<json>`` for an item of a
list keyed by some of its fields, ``v:<json>`` for a member of a set-like list. Objects (maps) are walked
into; every other value, and every list that is neither keyed nor a set, is one leaf ("atomic").

Which lists are keyed follows the built-in types' ``x-kubernetes-list-map-keys`` for what this product
writes: containers, env, volumes, volume mounts, ports (``containerPort``/``port`` with ``protocol``),
conditions, owner references...; ``finalizers`` is a set. Every other list is atomic, custom resources'
lists included (their schemas' list types are not read).
"""

from __future__ import annotations

import json
from typing import Any

Path = tuple[str, ...]
MISSING: Any = object()
PRESENT: Any = object()  # the value ``flatten`` gives a list item or set member: only its presence compares

_DEFAULTS = {"protocol": "TCP"}
LIST_KEYS: dict[str, tuple[tuple[str, ...], ...]] = {
    "containers": (("name",),),
    "initContainers": (("name",),),
    "ephemeralContainers": (("name",),),
    "env": (("name",),),
    "volumes": (("name",),),
    "volumeMounts": (("mountPath",),),
    "volumeDevices": (("devicePath",),),
    "ports": (("containerPort", "protocol"), ("port", "protocol")),
    "imagePullSecrets": (("name",),),
    "conditions": (("type",),),
    "ownerReferences": (("uid",),),
    "hostAliases": (("ip",),),
    "topologySpreadConstraints": (("topologyKey", "whenUnsatisfiable"),),
}
SET_LISTS = frozenset({"finalizers"})


def _key_fields(field: str, items: list[Any]) -> tuple[str, ...] | None:
    """The keys of a keyed list, when every item is an object carrying them and no two items share them."""
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    for keys in LIST_KEYS.get(field, ()):
        if all(key in item or key in _DEFAULTS for item in items for key in keys):
            encoded = [_item_element(keys, item) for item in items]
            return keys if len(set(encoded)) == len(encoded) else None
    return None


def _item_element(keys: tuple[str, ...], item: dict[str, Any]) -> str:
    return "k:" + json.dumps(
        {key: item.get(key, _DEFAULTS.get(key)) for key in keys}, sort_keys=True, separators=(",", ":")
    )


def _is_set(field: str, items: list[Any]) -> bool:
    return field in SET_LISTS and all(isinstance(item, str | int | bool) for item in items)


def flatten(value: Any, prefix: Path = (), field: str = "", into: dict[Path, Any] | None = None) -> dict[Path, Any]:
    """Every path an object sets, with its value: leaves with theirs, keyed-list items and set members with
    ``PRESENT`` (an item is there or not; its fields are paths of their own)."""
    found: dict[Path, Any] = {} if into is None else into
    if isinstance(value, dict):
        if not value and prefix:
            found[prefix] = value
        for key, child in value.items():
            flatten(child, (*prefix, f"f:{key}"), key, found)
        return found
    if isinstance(value, list) and _is_set(field, value):
        found.update({(*prefix, "v:" + json.dumps(item)): PRESENT for item in value})
        return found
    keys = _key_fields(field, value) if isinstance(value, list) else None
    if keys is None:
        found[prefix] = value
        return found
    for item in value:
        at = (*prefix, _item_element(keys, item))
        found[at] = PRESENT
        flatten(item, at, "", found)
    return found


def leaves(value: Any) -> set[Path]:
    """Every path an object sets: its leaves, plus the items of keyed and set lists."""
    return set(flatten(value))


def _child(parent: Any, element: str) -> Any:
    kind, _, name = element.partition(":")
    if kind == "f":
        return parent.get(name, MISSING) if isinstance(parent, dict) else MISSING
    if not isinstance(parent, list):
        return MISSING
    for index, item in enumerate(parent):
        if _matches(item, kind, name):
            return parent[index]
    return MISSING


def _matches(item: Any, kind: str, name: str) -> bool:
    if kind == "v":
        return bool(item == json.loads(name))
    wanted = json.loads(name)
    return isinstance(item, dict) and all(item.get(k, _DEFAULTS.get(k)) == v for k, v in wanted.items())


def remove(obj: Any, path: Path) -> None:
    """Delete what ``path`` names (if there), and the maps its removal leaves empty below the top level."""
    parents = [obj]
    for element in path[:-1]:
        parents.append(_child(parents[-1], element))
        if parents[-1] is MISSING:
            return
    _drop(parents[-1], path[-1])
    for depth in range(len(path) - 1, 1, -1):
        if parents[depth] in ({}, []):
            _drop(parents[depth - 1], path[depth - 1])


def _drop(parent: Any, element: str) -> None:
    kind, _, name = element.partition(":")
    if kind == "f" and isinstance(parent, dict):
        parent.pop(name, None)
    elif isinstance(parent, list):
        parent[:] = [item for item in parent if not _matches(item, kind, name)]


def merge(live: Any, applied: Any, field: str = "") -> Any:
    """``applied`` over ``live``: maps field by field, keyed lists item by item, sets as unions, the rest replaced."""
    if isinstance(applied, dict) and isinstance(live, dict):
        merged = dict(live)
        for key, value in applied.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = merge(live.get(key), value, key)
        return merged
    if isinstance(applied, list) and isinstance(live, list) and live:
        if _is_set(field, live + applied):
            return live + [item for item in applied if item not in live]
        keys = _key_fields(field, live)
        if keys is not None and (not applied or _key_fields(field, applied) == keys):
            return _merge_keyed(keys, live, applied)
    return applied


def _merge_keyed(keys: tuple[str, ...], live: list[Any], applied: list[Any]) -> list[Any]:
    merged = list(live)
    index = {_item_element(keys, item): i for i, item in enumerate(merged)}
    for item in applied:
        element = _item_element(keys, item)
        if element in index:
            merged[index[element]] = merge(merged[index[element]], item)
        else:
            index[element] = len(merged)
            merged.append(item)
    return merged


def encode(paths: set[Path]) -> dict[str, Any]:
    """``fieldsV1``: nested ``{element: {...}}``, ``{}`` for a leaf, ``".": {}`` for an item with fields of its own."""
    root: dict[str, Any] = {}
    for path in sorted(paths):
        node = root
        for element in path:
            node = node.setdefault(element, {})
    for path in paths:
        node = root
        for element in path:
            node = node[element]
        if node and "." not in node:
            node["."] = {}
    return root


def decode(fields: Any, prefix: Path = ()) -> set[Path]:
    found: set[Path] = set()
    if not isinstance(fields, dict):
        return found
    for element, child in fields.items():
        if element == ".":
            found.add(prefix)
        elif child == {}:
            found.add((*prefix, element))
        else:
            found |= decode(child, (*prefix, element))
    return found


def text(path: Path) -> str:
    """As kube-apiserver prints a path in a conflict: ``.spec.containers[name="db"].image``."""
    out = []
    for element in path:
        kind, _, name = element.partition(":")
        if kind == "f":
            out.append(f".{name}")
        elif kind == "v":
            out.append(f"[={name}]")
        else:
            keys = json.loads(name)
            out.append("[" + ",".join(f"{k}={json.dumps(v)}" for k, v in keys.items()) + "]")
    return "".join(out)
