"""Small builders for scheduler tests: clusters of identical nodes, specs from camelCase dicts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fedstate.models.cluster import ClusterSnapshot, NodeResources, Taint
from fedstate.models.multicloud import MultiCloudMongoDBSpec
from fedstate.models.placement import Placement
from fedstate_scheduler.domain import PlacementRequest, Reservation, decide

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
GI = 1 << 30


def cluster(
    name: str,
    *,
    nodes: int = 3,
    cpu: int = 4000,
    memory: int = 8 * GI,
    labels: dict[str, str] | None = None,
    node_labels: dict[str, str] | None = None,
    taints: list[Taint] | None = None,
    region: str = "",
    zone: str = "",
    provider: str = "",
    observed_at: datetime = NOW,
    storage_classes: tuple[str, ...] = ("standard",),
) -> ClusterSnapshot:
    return ClusterSnapshot(
        name=name,
        vip="127.0.0.1",
        region=region,
        zone=zone,
        provider=provider,
        labels=labels or {},
        nodes=[
            NodeResources(
                name=f"{name}-n{i}",
                labels=node_labels or {},
                taints=taints or [],
                allocatable_cpu_millis=cpu,
                allocatable_memory_bytes=memory,
            )
            for i in range(nodes)
        ],
        storage_classes=list(storage_classes),
        default_storage_class=storage_classes[0] if storage_classes else None,
        observed_at=observed_at,
    )


def heartbeat(snapshot: ClusterSnapshot, seconds: int = 5) -> ClusterSnapshot:
    """The next heartbeat of the same cluster: a new object decoded from the wire, later."""
    wire = snapshot.to_wire() | {"observedAt": (snapshot.observed_at + timedelta(seconds=seconds)).isoformat()}
    return ClusterSnapshot.model_validate(wire)


def spec(replicaset: int = 3, cpu: str = "1", memory: str = "1Gi", **fields: Any) -> MultiCloudMongoDBSpec:
    wire = {"replicaset": replicaset, "resource": {"requests": {"cpu": cpu, "memory": memory}}, **fields}
    return MultiCloudMongoDBSpec.model_validate(wire)


def place(
    wanted: MultiCloudMongoDBSpec,
    clusters: list[ClusterSnapshot],
    *,
    current: Placement | None = None,
    reservations: tuple[Reservation, ...] = (),
    generation: int = 1,
    namespace: str = "",
    primary_cluster: str | None = None,
) -> Placement:
    return decide(
        PlacementRequest(
            generation,
            wanted,
            tuple(clusters),
            NOW,
            current=current,
            reservations=reservations,
            namespace=namespace,
            primary_cluster=primary_cluster,
        )
    )


def layout(placement: Placement) -> dict[str, int]:
    return placement.replicas_by_cluster()


def voters(placement: Placement) -> dict[str, int]:
    return {a.cluster: a.voters for a in placement.clusters if a.voters}
