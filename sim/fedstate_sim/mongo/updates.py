"""Update documents: replacement, or the operators ``$set $unset $inc $setOnInsert $push``.

Returns a new document; stored documents are shared between members through the
oplog and are never modified in place.
"""

from __future__ import annotations

import copy
from typing import Any

from fedstate_sim.mongo.errors import Code, CommandError

Doc = dict[str, Any]


def is_operator_update(update: Doc) -> bool:
    return bool(update) and all(key.startswith("$") for key in update)


def apply_update(doc: Doc, update: Any, inserting: bool = False) -> Doc:
    """The document after ``update`` (``inserting`` for an upsert, where $setOnInsert applies)."""
    if not isinstance(update, dict):
        raise CommandError(Code.BadValue, "update pipelines are not supported by the simulator")
    if not is_operator_update(update):
        if any(key.startswith("$") for key in update):
            raise CommandError(Code.BadValue, "an update cannot mix operators and replacement fields")
        return {"_id": doc["_id"], **{k: v for k, v in update.items() if k != "_id"}} if "_id" in doc else dict(update)
    result = copy.deepcopy(doc)
    for operator, fields in update.items():
        for path, value in fields.items():
            _apply_operator(result, operator, path, value, inserting)
    return result


def _parent(doc: Doc, path: str) -> tuple[Doc, str]:
    *parents, leaf = path.split(".")
    for part in parents:
        doc = doc.setdefault(part, {})
        if not isinstance(doc, dict):
            raise CommandError(Code.BadValue, f"cannot traverse into {path}")
    return doc, leaf


def _apply_operator(doc: Doc, operator: str, path: str, value: Any, inserting: bool) -> None:
    target, leaf = _parent(doc, path)
    if operator == "$set" or (operator == "$setOnInsert" and inserting):
        target[leaf] = value
    elif operator == "$setOnInsert":
        return
    elif operator == "$unset":
        target.pop(leaf, None)
    elif operator == "$inc":
        target[leaf] = target.get(leaf, 0) + value
    elif operator == "$push":
        target[leaf] = [*target.get(leaf, []), value]
    else:
        raise CommandError(Code.BadValue, f"update operator {operator} is not supported by the simulator")


def upsert_seed(query: Doc | None) -> Doc:
    """The equality fields of a filter, which an upserted document starts from."""
    return {k: v for k, v in (query or {}).items() if not k.startswith("$") and not _is_operator_doc(v)}


def _is_operator_doc(value: Any) -> bool:
    return isinstance(value, dict) and any(str(k).startswith("$") for k in value)
