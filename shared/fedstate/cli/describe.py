"""``fedstate describe``: what kubectl describe shows, for both kinds.

``describe mcm NAME``: spec summary, status, conditions, per-cluster members, the Placement, events.
``describe mongodb NAME``: spec summary, status, conditions, the replica set's members, events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .render import age, print_lines, print_table
from .tables import NONE, mongodb_primary, object_event_table, primary, state, target_cluster

if TYPE_CHECKING:
    from fedstate.api.views import EventSeries, EventView, ObjectView, PlacementView

    Events = list[EventSeries[EventView]]


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _resources(resource: dict[str, Any]) -> str:
    parts = []
    for side in ("requests", "limits"):
        values = resource.get(side) or {}
        if values:
            parts.append(side + " " + " ".join(f"{k}={v}" for k, v in values.items()))
    return ", ".join(parts) or NONE


def _fields(pairs: list[tuple[str, Any]], indent: int = 0) -> list[str]:
    width = max(len(label) for label, _ in pairs) + 2
    return [" " * indent + f"{label + ':':<{width}}{value}" for label, value in pairs]


def header_lines(obj: ObjectView) -> list[str]:
    meta = obj.metadata
    pairs: list[tuple[str, Any]] = [
        ("Name", obj.name),
        ("Namespace", obj.namespace),
        ("UID", meta.get("uid", NONE)),
        ("Generation", meta.get("generation", NONE)),
        ("Created", f"{meta.get('creationTimestamp', NONE)} ({age(meta.get('creationTimestamp'))} ago)"),
    ]
    if meta.get("deletionTimestamp"):
        pairs.append(("Deleting since", meta["deletionTimestamp"]))
    return _fields(pairs)


def spec_lines(spec: dict[str, Any]) -> list[str]:
    image = spec.get("imageSetting") or {}
    storage = spec.get("storage") or {}
    config = spec.get("config") or {}
    pairs: list[tuple[str, Any]] = [
        ("Replicas", spec.get("replicaset", NONE)),
        ("Image", f"{image.get('image', NONE)} ({image.get('imagePullPolicy', 'IfNotPresent')})"),
        ("Resources", _resources(spec.get("resource") or {})),
        ("Storage", f"{storage.get('storageSize', NONE)} of {storage.get('storageClass') or 'the default class'}"),
        ("Scheduler", (spec.get("scheduler") or {}).get("schedulerMode", "Uniform")),
        ("Exporter", "enabled" if (spec.get("export") or {}).get("enable") else "disabled"),
        ("Arbiter", "yes" if config.get("arbiter") else "no"),
        ("Config ref", config.get("configRef") or NONE),
    ]
    return ["Spec:", *_fields(pairs, indent=2)]


def status_lines(obj: ObjectView) -> list[str]:
    status = obj.status or {}
    pairs: list[tuple[str, Any]] = [
        ("State", state(obj)),
        ("Observed generation", status.get("observedGeneration", NONE)),
        ("Primary", primary(obj)),
        ("External addr", status.get("externalAddr") or NONE),
    ]
    return ["Status:", *_fields(pairs, indent=2)]


def print_conditions(status: dict[str, Any]) -> None:
    conditions = status.get("conditions") or []
    print_lines("Conditions:" + ("" if conditions else f" {NONE}"))
    rows = [
        [
            c.get("type", ""),
            c.get("status", ""),
            c.get("reason", ""),
            age(c.get("lastTransitionTime")),
            c.get("message", ""),
        ]
        for c in conditions
    ]
    if rows:
        print_table(["TYPE", "STATUS", "REASON", "AGE", "MESSAGE"], rows, indent=2)


def cluster_lines(status: dict[str, Any]) -> list[str]:
    """Each cluster's part, then one line per member: address and role."""
    results = status.get("result") or []
    lines = ["Clusters:" + ("" if results else f" {NONE}")]
    for r in results:
        applied = "applied" if r.get("applied") else "not applied"
        members = f"{r.get('replicasetStatus', 0)}/{r.get('replicasetSpec', 0)} members"
        lines.append(
            f"  {r.get('cluster')}: {r.get('state', NONE)}, {members}, {applied}, revision {r.get('currentRevision') or NONE}"
        )
        for address, role in sorted((r.get("connectAddrWithRole") or {}).items()):
            lines.append(f"    {address:<24}{role}")
    return lines


def placement_lines(placement: PlacementView | None) -> list[str]:
    if placement is None:
        return [f"Placement: {NONE} (not scheduled yet)"]
    lines = [f"Placement (spec generation {placement.spec_generation}, mode {placement.mode}):"]
    if placement.summary:
        lines.append(f"  {placement.summary}")
    for a in placement.clusters:
        arbiter = " + arbiter" if a.arbiter else ""
        lines.append(f"  {a.cluster}: {plural(a.replicas, 'member')}, {a.voters} voting{arbiter}")
    for v in placement.verdicts:
        verdict = "eligible" if v.eligible else "not eligible"
        score = f", score {v.score:g}" if v.score is not None else ""
        reasons = f": {'; '.join(v.reasons)}" if v.reasons else ""
        lines.append(f"  - {v.cluster} {verdict}{score}{reasons}")
    lines += [f"  warning: {w}" for w in placement.warnings]
    return lines


def print_events(events: Events) -> None:
    print_lines("Events:" + ("" if events else f" {NONE}"))
    if events:
        print_table(*object_event_table(events), indent=2)


def print_description(obj: ObjectView, placement: PlacementView | None, events: Events) -> None:
    print_lines(*header_lines(obj), *spec_lines(obj.spec or {}), *status_lines(obj))
    print_conditions(obj.status or {})
    print_lines(*cluster_lines(obj.status or {}), *placement_lines(placement))
    print_events(events)


def mongodb_spec_lines(spec: dict[str, Any]) -> list[str]:
    persistence = spec.get("persistence") or {}
    pairs: list[tuple[str, Any]] = [
        ("Members", spec.get("members", NONE)),
        ("Image", f"{spec.get('image', NONE)} ({spec.get('imagePullPolicy', 'IfNotPresent')})"),
        ("Resources", _resources(spec.get("resources") or {})),
        (
            "Storage",
            f"{persistence.get('storage', NONE)} of {persistence.get('storageClassName') or 'the default class'}",
        ),
        ("Exporter", "enabled" if (spec.get("metricsExporterSpec") or {}).get("enable", True) else "disabled"),
        ("Config ref", spec.get("customConfigRef") or NONE),
    ]
    return ["Spec:", *_fields(pairs, indent=2)]


def mongodb_status_lines(obj: ObjectView) -> list[str]:
    status = obj.status or {}
    pairs: list[tuple[str, Any]] = [
        ("State", state(obj)),
        ("Cluster", target_cluster(obj)),
        ("Ready members", (status.get("currentInfo") or {}).get("members", 0)),
        ("Current revision", status.get("currentRevision") or NONE),
        ("Primary", mongodb_primary(obj)),
    ]
    return ["Status:", *_fields(pairs, indent=2)]


def print_members(status: dict[str, Any]) -> None:
    """The replica set as replSetGetStatus sees it: one row per member."""
    members = status.get("replset") or []
    print_lines("Members:" + ("" if members else f" {NONE}"))
    columns = ("_id", "name", "stateStr", "health")
    rows = [[*(str(m.get(c, "")) for c in columns), m.get("syncSourceHost") or NONE] for m in members]
    if rows:
        print_table(["ID", "MEMBER", "STATE", "HEALTH", "SYNC SOURCE"], rows, indent=2)


def print_mongodb_description(obj: ObjectView, events: Events) -> None:
    print_lines(*header_lines(obj), *mongodb_spec_lines(obj.spec or {}), *mongodb_status_lines(obj))
    print_conditions(obj.status or {})
    print_members(obj.status or {})
    print_events(events)


def print_configmap_description(obj: ObjectView) -> None:
    """kubectl's ``describe configmap``: name, namespace, then each key with its value under a rule."""
    data = obj.data or {}
    lines = [*_fields([("Name", obj.name), ("Namespace", obj.namespace)]), "", "Data", "===="]
    for key, value in sorted(data.items()):
        lines += [f"{key}:", "----", value.rstrip("\n"), ""]
    print_lines(*lines)


def print_topology(obj: ObjectView) -> None:
    """Which member is PRIMARY in which cluster, every member's role, and the connection string."""
    rows = [
        [address, role, str(r.get("cluster", ""))]
        for r in (obj.status or {}).get("result") or []
        for address, role in sorted((r.get("connectAddrWithRole") or {}).items())
    ]
    print_lines(f"{obj.name}: {state(obj)}, PRIMARY {primary(obj)}", "")
    print_table(["MEMBER", "ROLE", "CLUSTER"], rows)
    print_lines("", f"externalAddr: {(obj.status or {}).get('externalAddr') or NONE}")
