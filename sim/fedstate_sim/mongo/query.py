"""A deliberately small query language: filters, sort, projection and a few pipeline stages.

Supported: equality on (dotted) fields, ``$eq $ne $gt $gte $lt $lte $in $nin
$exists``, top-level ``$and $or``; sort on fields; inclusion/exclusion
projection; pipeline stages ``$match $sort $skip $limit $project $count`` and
``$group`` with ``$sum``. That covers pymongo's ``count_documents``
(``$match`` + ``$group {_id: 1, n: {$sum: 1}}``) and simple admin reads; anything
else is a clear error rather than a wrong answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fedstate_sim.mongo.errors import Code, CommandError

Doc = dict[str, Any]
MISSING = object()


def _unsupported(what: str) -> CommandError:
    return CommandError(Code.BadValue, f"{what} is not supported by the simulated query engine")


def get_path(doc: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(doc, dict) or part not in doc:
            return MISSING
        doc = doc[part]
    return doc


def _compare(op: str, value: Any, operand: Any) -> bool:
    if value is MISSING or value is None:
        return False
    try:
        if op == "$gt":
            return bool(value > operand)
        if op == "$gte":
            return bool(value >= operand)
        if op == "$lt":
            return bool(value < operand)
        return bool(value <= operand)
    except TypeError:  # MongoDB compares across types by type order; the simulator just says no
        return False


def _equals(value: Any, operand: Any) -> bool:
    if value is MISSING:
        return operand is None
    if isinstance(value, list) and not isinstance(operand, list):
        return operand in value
    return bool(value == operand)


def _match_operator(value: Any, op: str, operand: Any) -> bool:
    if op == "$eq":
        return _equals(value, operand)
    if op == "$ne":
        return not _equals(value, operand)
    if op in ("$gt", "$gte", "$lt", "$lte"):
        return _compare(op, value, operand)
    if op == "$in":
        return any(_equals(value, item) for item in operand)
    if op == "$nin":
        return not any(_equals(value, item) for item in operand)
    if op == "$exists":
        return (value is not MISSING) == bool(operand)
    raise _unsupported(f"query operator {op}")


def _match_field(doc: Doc, path: str, condition: Any) -> bool:
    value = get_path(doc, path)
    if isinstance(condition, dict) and condition and all(k.startswith("$") for k in condition):
        return all(_match_operator(value, op, operand) for op, operand in condition.items())
    return _equals(value, condition)


def matches(doc: Doc, query: Doc | None) -> bool:
    """Does ``doc`` satisfy the filter?"""
    for key, condition in (query or {}).items():
        if key == "$and":
            ok = all(matches(doc, sub) for sub in condition)
        elif key == "$or":
            ok = any(matches(doc, sub) for sub in condition)
        elif key.startswith("$"):
            raise _unsupported(f"top-level operator {key}")
        else:
            ok = _match_field(doc, key, condition)
        if not ok:
            return False
    return True


def sort_docs(docs: list[Doc], spec: Doc | None) -> list[Doc]:
    for field, direction in reversed(list((spec or {}).items())):
        docs = sorted(docs, key=_sort_key_of(field), reverse=direction == -1)
    return docs


def _sort_key_of(field: str) -> Callable[[Doc], tuple[int, Any]]:
    return lambda doc: _sort_key(get_path(doc, field))


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is MISSING or value is None:
        return (0, 0)
    if isinstance(value, int | float):
        return (1, value)
    return (2, str(value))


def project(doc: Doc, spec: Doc | None) -> Doc:
    if not spec:
        return doc
    include = {k for k, v in spec.items() if v and k != "_id"}
    if include:
        out = {k: doc[k] for k in doc if k in include}
        if spec.get("_id", 1) and "_id" in doc:
            out = {"_id": doc["_id"], **out}
        return out
    return {k: v for k, v in doc.items() if spec.get(k, 1)}


def _group(docs: list[Doc], spec: Doc) -> list[Doc]:
    key_spec = spec.get("_id")
    groups: dict[Any, Doc] = {}
    for doc in docs:
        key = get_path(doc, key_spec[1:]) if isinstance(key_spec, str) and key_spec.startswith("$") else key_spec
        key = None if key is MISSING else key
        out = groups.setdefault(repr(key), {"_id": key})
        for name, accumulator in spec.items():
            if name != "_id":
                out[name] = out.get(name, 0) + _sum_term(doc, accumulator)
    return list(groups.values())


def _sum_term(doc: Doc, accumulator: Any) -> Any:
    if not isinstance(accumulator, dict) or list(accumulator) != ["$sum"]:
        raise _unsupported(f"$group accumulator {accumulator!r}")
    operand = accumulator["$sum"]
    if isinstance(operand, str) and operand.startswith("$"):
        value = get_path(doc, operand[1:])
        return value if isinstance(value, int | float) else 0
    return operand


_STAGES: dict[str, Callable[[list[Doc], Any], list[Doc]]] = {
    "$match": lambda docs, arg: [d for d in docs if matches(d, arg)],
    "$sort": sort_docs,
    "$skip": lambda docs, arg: docs[int(arg) :],
    "$limit": lambda docs, arg: docs[: int(arg)],
    "$project": lambda docs, arg: [project(d, arg) for d in docs],
    "$count": lambda docs, arg: [{arg: len(docs)}] if docs else [],
    "$group": _group,
}


def run_pipeline(docs: Iterable[Doc], pipeline: list[Doc]) -> list[Doc]:
    result = list(docs)
    for stage in pipeline:
        if not isinstance(stage, dict) or len(stage) != 1:
            raise CommandError(Code.BadValue, "A pipeline stage specification object must contain exactly one field.")
        ((name, arg),) = stage.items()
        if name not in _STAGES:
            raise _unsupported(f"aggregation stage {name}")
        result = _STAGES[name](result, arg)
    return result


def find(
    docs: Iterable[Doc], query: Doc | None, sort: Doc | None, skip: int, limit: int, projection: Doc | None
) -> list[Doc]:
    selected = [d for d in docs if matches(d, query)]
    selected = sort_docs(selected, sort)[skip:]
    if limit:
        selected = selected[: abs(limit)]
    return [project(d, projection) for d in selected]
