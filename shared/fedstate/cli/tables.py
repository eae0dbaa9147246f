"""The rows of ``fedstate get``: one function per kind, each reading only the wire object."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fedstate.api.resources import CLUSTER_ANNOTATION

from .render import age, cpu, memory

if TYPE_CHECKING:
    from fedstate.api.views import EventSeries, EventView, MemberClusterView, ObjectView

NONE = "<none>"
Table = tuple[list[str], list[list[str]]]


def _status(obj: ObjectView) -> dict[str, Any]:
    return obj.status or {}


def state(obj: ObjectView) -> str:
    if obj.metadata.get("deletionTimestamp") and not _status(obj).get("state"):
        return "Deleting"
    return str(_status(obj).get("state") or "Pending")


def primary(obj: ObjectView) -> str:
    """``addr@cluster`` of the member whose role is PRIMARY, from the status' per-cluster result."""
    for result in _status(obj).get("result", []):
        for address, role in (result.get("connectAddrWithRole") or {}).items():
            if role == "PRIMARY":
                return f"{address}@{result.get('cluster', '?')}"
    return NONE


def split(obj: ObjectView) -> str:
    """Members per cluster, as ``2+2+1``."""
    counts = [str(r.get("replicasetSpec", 0)) for r in _status(obj).get("result", [])]
    return "+".join(counts) or NONE


def mcm_table(items: Sequence[ObjectView], wide: bool = False) -> Table:
    headers = ["NAME", "REPLICAS", "STATE", "PRIMARY", "AGE"]
    if wide:
        headers += ["EXTERNAL-ADDR", "CLUSTERS"]
    rows = []
    for obj in items:
        row = [obj.name, str((obj.spec or {}).get("replicaset", "")), state(obj), primary(obj)]
        row.append(age(obj.metadata.get("creationTimestamp")))
        if wide:
            row += [_status(obj).get("externalAddr") or NONE, split(obj)]
        rows.append(row)
    return headers, rows


def target_cluster(obj: ObjectView) -> str:
    return str((obj.metadata.get("annotations") or {}).get(CLUSTER_ANNOTATION, NONE))


def mongodb_primary(obj: ObjectView) -> str:
    for member in _status(obj).get("replset", []):
        if member.get("stateStr") == "PRIMARY":
            return f"{member.get('name')}@{target_cluster(obj)}"
    return NONE


def mongodb_table(items: Sequence[ObjectView], wide: bool = False) -> Table:
    headers = ["NAME", "CLUSTER", "MEMBERS", "STATE", "PRIMARY", "AGE"]
    if wide:
        headers += ["IMAGE", "REVISION"]
    rows = []
    for obj in items:
        spec = obj.spec or {}
        row = [obj.name, target_cluster(obj), str(spec.get("members", "")), state(obj), mongodb_primary(obj)]
        row.append(age(obj.metadata.get("creationTimestamp")))
        if wide:
            row += [str(spec.get("image", "")), str(_status(obj).get("currentRevision") or NONE)]
        rows.append(row)
    return headers, rows


def configmap_table(items: Sequence[ObjectView], wide: bool = False) -> Table:
    rows = [[obj.name, str(len(obj.data or {})), age(obj.metadata.get("creationTimestamp"))] for obj in items]
    return ["NAME", "DATA", "AGE"], rows


def with_namespace(table: Table, items: Sequence[ObjectView]) -> Table:
    headers, rows = table
    return ["NAMESPACE", *headers], [[obj.namespace, *row] for obj, row in zip(items, rows, strict=True)]


def cluster_table(clusters: Sequence[MemberClusterView], wide: bool = False) -> Table:
    headers = ["NAME", "STATUS", "VIP", "NODES", "CPU(FREE/ALLOC)", "MEMORY(FREE/ALLOC)", "HEARTBEAT"]
    if wide:
        headers += ["REGION", "ZONE", "PROVIDER", "STORAGE-CLASSES", "LABELS"]
    rows = []
    for c in clusters:
        capacity = c.capacity
        row = [
            c.name,
            str(c.health),
            c.vip,
            f"{c.ready_nodes}/{c.node_count}",
            f"{cpu(capacity.free_cpu_millis)}/{cpu(capacity.allocatable_cpu_millis)}",
            f"{memory(capacity.free_memory_bytes)}/{memory(capacity.allocatable_memory_bytes)}",
            f"{c.heartbeat_age_seconds:.0f}s ago",
        ]
        if wide:
            row += [c.region or NONE, c.zone or NONE, c.provider or NONE, ",".join(c.storage_classes) or NONE]
            row.append(",".join(f"{k}={v}" for k, v in sorted(c.labels.items())) or NONE)  # as kubectl --show-labels
        rows.append(row)
    return headers, rows


def seen(series: EventSeries[EventView], now: datetime | None = None) -> str:
    """kubectl's LAST SEEN of an event: ``42s``, or ``3m (x5 over 10m)`` when it happened five times."""
    last = age(series.last, now)
    return last if series.count == 1 else f"{last} (x{series.count} over {age(series.first, now)})"


def event_table(events: Sequence[EventSeries[EventView]]) -> Table:
    """``fedstate events``: one row per merged event, oldest first."""
    headers = ["LAST SEEN", "TYPE", "REASON", "OBJECT", "FROM", "MESSAGE"]
    rows = [
        [seen(s), s.event.type, s.event.reason, s.event.instance, s.event.component, s.event.message] for s in events
    ]
    return headers, rows


def object_event_table(events: Sequence[EventSeries[EventView]]) -> Table:
    """The events of one object in ``describe``, as kubectl describe shows them (no OBJECT column)."""
    headers = ["TYPE", "REASON", "AGE", "FROM", "MESSAGE"]
    rows = [[s.event.type, s.event.reason, seen(s), s.event.component, s.event.message] for s in events]
    return headers, rows
