"""Field managers in ``metadata.managedFields``, and server-side apply by their rules.

Every write names a manager (``fieldManager``, else the client's User-Agent up to its first ``/``, as
kube-apiserver does). A create or update (``operation: Update``) gives its manager the fields it set
or changed, and takes them from everyone else. An apply (``operation: Apply``) makes its manager own
exactly the fields of its applied configuration: fields it applied before and dropped now are removed
from the object unless another manager owns them too; a field another manager owns and this apply
would change is a 409 Conflict naming both, unless ``force=true``, which takes it over. Applying the
same value as another manager shares the field. A write that changes nothing leaves managedFields
untouched (no new resourceVersion).

Simplified from structured-merge-diff: field granularity is ``fieldpaths``' (keyed lists for the usual
built-in fields, every other list atomic); ownership is not converted between API versions; maps
themselves are never owned, only their leaves; clients cannot rewrite managedFields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fedstate_sim.kube import errors
from fedstate_sim.kube.fieldpaths import MISSING, Path, decode, encode, flatten, leaves, merge, remove, text
from fedstate_sim.kube.meta import Obj, clone, meta

APPLY, UPDATE = "Apply", "Update"
_UNTRACKED_METADATA = frozenset(
    {
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
        "managedFields",
    }
)


@dataclass
class Entry:
    manager: str
    operation: str
    subresource: str
    api_version: str
    time: str
    paths: set[Path] = field(default_factory=set)

    @property
    def ident(self) -> tuple[str, str, str]:
        return (self.manager, self.operation, self.subresource)

    def render(self) -> Obj:
        entry: Obj = {
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
            "time": self.time,
            "fieldsType": "FieldsV1",
            "fieldsV1": encode(self.paths),
        }
        if self.subresource:
            entry["subresource"] = self.subresource
        return entry

    def printed(self) -> str:
        """As kube-apiserver names a manager in a conflict."""
        name = f'"{self.manager}"' + (f' with subresource "{self.subresource}"' if self.subresource else "")
        return f"{name} using {self.api_version}" if self.operation == UPDATE else name


@dataclass(frozen=True)
class Writer:
    """Who writes, through which version and subresource, and whether the kind has a status subresource."""

    manager: str
    api_version: str
    time: str
    subresource: str = ""
    has_status: bool = False


def manager_of(field_manager: str | None, user_agent: str | None) -> str:
    return field_manager or (user_agent or "").split("/")[0]


def tracked(obj: Obj, writer: Writer) -> Obj:
    """The part of ``obj`` whose fields a write through ``writer``'s subresource can own."""
    if writer.subresource == "status":
        return {"status": obj["status"]} if "status" in obj else {}
    view = {
        key: value
        for key, value in obj.items()
        if key not in ("apiVersion", "kind", "metadata") and not (writer.has_status and key == "status")
    }
    metadata = {key: value for key, value in meta(obj).items() if key not in _UNTRACKED_METADATA}
    if metadata:
        view["metadata"] = metadata
    return view


def entries_of(obj: Obj) -> list[Entry]:
    return [
        Entry(
            str(raw.get("manager", "")),
            str(raw.get("operation", UPDATE)),
            str(raw.get("subresource", "")),
            str(raw.get("apiVersion", "")),
            str(raw.get("time", "")),
            decode(raw.get("fieldsV1")),
        )
        for raw in meta(obj).get("managedFields") or []
        if isinstance(raw, dict)
    ]


def _entry(entries: list[Entry], writer: Writer, operation: str) -> Entry:
    for entry in entries:
        if entry.ident == (writer.manager, operation, writer.subresource):
            return entry
    entry = Entry(writer.manager, operation, writer.subresource, writer.api_version, writer.time)
    entries.append(entry)
    return entry


def _store(obj: Obj, entries: list[Entry], before: Obj | None) -> None:
    """Write ``entries`` into ``obj``; unchanged ownership keeps the previous entries (and their times)."""
    kept = [entry for entry in entries if entry.paths]
    if before is not None and _ownership(kept) == _ownership(entries_of(before)):
        rendered = meta(before).get("managedFields")
    else:
        rendered = [entry.render() for entry in kept]
    metadata = obj.setdefault("metadata", {})
    if rendered:
        metadata["managedFields"] = rendered
    else:
        metadata.pop("managedFields", None)


def _ownership(entries: list[Entry]) -> list[tuple[tuple[str, str, str], frozenset[Path]]]:
    return sorted((entry.ident, frozenset(entry.paths)) for entry in entries if entry.paths)


def _changed(before: dict[Path, Any], after: dict[Path, Any], candidates: set[Path]) -> set[Path]:
    """Among ``candidates``, the paths of two flattened objects whose value differs (an item: whose presence)."""
    return {path for path in candidates if before.get(path, MISSING) != after.get(path, MISSING)}


def record_create(obj: Obj, writer: Writer, operation: str = UPDATE) -> None:
    """A new object: its manager owns every field it carries."""
    if writer.manager:
        entry = Entry(writer.manager, operation, writer.subresource, writer.api_version, writer.time)
        entry.paths = leaves(tracked(obj, writer))
        _store(obj, [entry], None)


def record_update(current: Obj, new: Obj, writer: Writer) -> None:
    """An update (PUT or a non-apply PATCH): the changed fields move to its manager; removed ones to no one."""
    before, after = flatten(tracked(current, writer)), flatten(tracked(new, writer))
    changed = _changed(before, after, before.keys() | after.keys())
    entries = entries_of(current)
    if changed and writer.manager:
        for entry in entries:
            entry.paths -= changed
        mine = _entry(entries, writer, UPDATE)
        mine.paths |= changed & after.keys()
        mine.time, mine.api_version = writer.time, writer.api_version
    _store(new, entries, current)


def apply(current: Obj, applied: Obj, writer: Writer, force: bool) -> Obj:
    """Server-side apply of ``applied`` to the live ``current``: the next object, managedFields included."""
    config = tracked(applied, writer)
    wanted = leaves(config)
    entries = entries_of(current)
    mine = _entry(entries, writer, APPLY)
    others = [entry for entry in entries if entry is not mine]
    merged = merge(clone(current), config if writer.subresource == "status" else _without_status(applied, writer))
    shared: set[Path] = set().union(*(entry.paths for entry in others))
    still_applied = {path[:depth] for path in wanted for depth in range(1, len(path) + 1)}
    for path in sorted(mine.paths - still_applied, key=len, reverse=True):
        if not any(owned[: len(path)] == path for owned in shared):
            remove(merged, path)  # dropped from the configuration, owned by no one else
    changed = _changed(flatten(tracked(current, writer)), flatten(tracked(merged, writer)), wanted | mine.paths)
    conflicts = [(entry, path) for entry in others for path in sorted(entry.paths & changed)]
    if conflicts and not force:
        raise conflict(conflicts)
    for entry in others:
        entry.paths -= changed
    mine.paths, mine.time, mine.api_version = wanted, writer.time, writer.api_version
    _store(merged, entries, current)
    return merged


def _without_status(applied: Obj, writer: Writer) -> Obj:
    """An apply to the main resource does not set status (kube resets it) when the kind has a subresource for it."""
    return {key: value for key, value in applied.items() if not (writer.has_status and key == "status")}


def conflict(conflicts: list[tuple[Entry, Path]]) -> errors.ApiError:
    """409 Conflict in kube-apiserver's words: ``Apply failed with 1 conflict: conflict with "m": .data.k``."""
    causes = [
        {"reason": "FieldManagerConflict", "message": f"conflict with {entry.printed()}", "field": text(path)}
        for entry, path in conflicts
    ]
    if len(conflicts) == 1:
        entry, path = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {entry.printed()}: {text(path)}"
    else:
        by_manager: dict[str, list[str]] = {}
        for entry, path in conflicts:
            by_manager.setdefault(entry.printed(), []).append(f"- {text(path)}")
        lines = [
            line for manager in sorted(by_manager) for line in (f"conflicts with {manager}:", *by_manager[manager])
        ]
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    details: dict[str, Any] = {"causes": causes}
    return errors.ApiError(409, "Conflict", message, details)
