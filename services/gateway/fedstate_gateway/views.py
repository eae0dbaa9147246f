"""Wire shapes out of bus values: a stored object as Kubernetes shows it, a cluster with its health.

Pure functions, no bus access; the credentials of a DataPlaneSpec never leave this module.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fedstate.api import CONFIGMAP, MONGODB, ClusterCapacity, ClusterView, KubeObject, Resource
from fedstate.api.resources import CLUSTER_ANNOTATION, SOURCE_ANNOTATION, SOURCE_CUSTOM_RESOURCE
from fedstate.bus.objects import LocalObject, StatusRecord, StoredObject
from fedstate.models.cluster import ClusterSnapshot, NodeResources
from fedstate.models.dataplane import DataPlaneSpec
from fedstate.models.redaction import redact


def object_view(
    resource: Resource, stored: StoredObject, status: StatusRecord | None, revision: int | None = None
) -> KubeObject:
    """apiVersion, kind, metadata (uid, generation, timestamps), spec or data, and status from fs-status."""
    metadata = stored.metadata.model_dump(mode="json", by_alias=True, exclude_none=True)
    if revision is not None:
        metadata["resourceVersion"] = str(revision)
    if stored.target_cluster:
        metadata["annotations"] = {**metadata.get("annotations", {}), CLUSTER_ANNOTATION: stored.target_cluster}
    if resource is CONFIGMAP:
        return KubeObject(api_version=stored.api_version, kind=stored.kind, metadata=metadata, data=stored.data or {})
    return KubeObject(
        api_version=stored.api_version,
        kind=stored.kind,
        metadata=metadata,
        spec=redact(stored.kind, stored.spec),
        status=status.wire_status() if status else {},
    )


def local_view(local: LocalObject) -> KubeObject:
    """A mirrored custom resource, annotated with its cluster and its source."""
    view = object_view(MONGODB, local.object, local.status)
    annotations = view.metadata.setdefault("annotations", {})
    annotations[SOURCE_ANNOTATION] = SOURCE_CUSTOM_RESOURCE
    return view


def _schedulable(node: NodeResources) -> bool:
    return node.ready and node.schedulable


def capacity(nodes: list[NodeResources]) -> ClusterCapacity:
    """Allocatable, requested and free CPU and memory summed over the nodes that take pods."""
    usable = [n for n in nodes if _schedulable(n)]
    return ClusterCapacity(
        allocatable_cpu_millis=sum(n.allocatable_cpu_millis for n in usable),
        allocatable_memory_bytes=sum(n.allocatable_memory_bytes for n in usable),
        requested_cpu_millis=sum(n.requested_cpu_millis for n in usable),
        requested_memory_bytes=sum(n.requested_memory_bytes for n in usable),
        free_cpu_millis=sum(n.free_cpu_millis for n in usable),
        free_memory_bytes=sum(n.free_memory_bytes for n in usable),
    )


def cluster_view(snapshot: ClusterSnapshot, now: datetime, failure_threshold: timedelta) -> ClusterView:
    """The snapshot with its health judged by heartbeat age, and its capacity summed."""
    return ClusterView(
        name=snapshot.name,
        vip=snapshot.vip,
        health=snapshot.health(now, failure_threshold),
        heartbeat_age_seconds=round(max(0.0, (now - snapshot.observed_at).total_seconds()), 3),
        observed_at=snapshot.observed_at,
        region=snapshot.region,
        zone=snapshot.zone,
        provider=snapshot.provider,
        labels=snapshot.labels,
        node_count=len(snapshot.nodes),
        ready_nodes=sum(1 for n in snapshot.nodes if _schedulable(n)),
        cordoned_nodes=sum(1 for n in snapshot.nodes if not n.schedulable),
        capacity=capacity(snapshot.nodes),
        storage_classes=snapshot.storage_classes,
        default_storage_class=snapshot.default_storage_class,
        node_ports_used=snapshot.node_ports_used,
        agent_version=snapshot.agent_version,
        quotas=snapshot.quotas,
    )


def dataplane_summary(spec: DataPlaneSpec) -> dict[str, Any]:
    """What the orchestrator asked of one cluster, without the credentials (not even sealed)."""
    return spec.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"sealed", "vault"})
