"""Per-cluster metrics as the scheduler sees the member clusters: heartbeat age, Ready, cordoned, capacity and
the capacity promised to placements whose members have not started yet. A pure function of the scheduler's mirror of ``fs-clusters`` (with the collectors' leases), its
reservations (``fs-reservations``) and the clock, rendered at scrape time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from fedstate.models.cluster import ClusterHealth, ClusterSnapshot
from fedstate.scrape import Family, Sample

from .request import Reservation

CLUSTER = ("cluster",)

HEARTBEAT_AGE = Family(
    "fedstate_cluster_heartbeat_age_seconds", "Time since the cluster's collector last said it is alive", CLUSTER
)
READY = Family("fedstate_cluster_ready", "1 while the cluster's heartbeat is within the failure threshold", CLUSTER)
CORDONED = Family("fedstate_cluster_cordoned", "1 when no node of the cluster takes new pods (all cordoned)", CLUSTER)
CAPACITY_CPU = Family("fedstate_cluster_capacity_cpu_cores", "Allocatable CPU of the cluster's nodes", CLUSTER)
CAPACITY_MEMORY = Family("fedstate_cluster_capacity_memory_bytes", "Allocatable memory of the cluster's nodes", CLUSTER)
REQUESTED_CPU = Family("fedstate_cluster_requested_cpu_cores", "CPU requested by the pods on the cluster", CLUSTER)
REQUESTED_MEMORY = Family(
    "fedstate_cluster_requested_memory_bytes", "Memory requested by the pods on the cluster", CLUSTER
)
RESERVED_MEMBERS = Family(
    "fedstate_cluster_reserved_members", "Members placed on the cluster that its snapshot does not show yet", CLUSTER
)
RESERVED_CPU = Family("fedstate_cluster_reserved_cpu_cores", "CPU those reserved members will request", CLUSTER)
RESERVED_MEMORY = Family(
    "fedstate_cluster_reserved_memory_bytes", "Memory those reserved members will request", CLUSTER
)
FAMILIES = (
    HEARTBEAT_AGE,
    READY,
    CORDONED,
    CAPACITY_CPU,
    CAPACITY_MEMORY,
    REQUESTED_CPU,
    REQUESTED_MEMORY,
    RESERVED_MEMBERS,
    RESERVED_CPU,
    RESERVED_MEMORY,
)


def cluster_samples(
    clusters: Iterable[ClusterSnapshot], reservations: Iterable[Reservation], now: datetime, threshold: timedelta
) -> Iterator[Sample]:
    promised: dict[str, list[Reservation]] = {}
    for reservation in reservations:
        promised.setdefault(reservation.cluster, []).append(reservation)
    for snapshot in sorted(clusters, key=lambda s: s.name):
        yield from _cluster(snapshot, promised.get(snapshot.name, []), now, threshold)


def _cluster(
    snapshot: ClusterSnapshot, promised: list[Reservation], now: datetime, threshold: timedelta
) -> Iterator[Sample]:
    name, nodes = snapshot.name, snapshot.nodes
    yield HEARTBEAT_AGE.sample(max(0.0, (now - snapshot.observed_at).total_seconds()), cluster=name)
    yield READY.sample(int(snapshot.health(now, threshold) == ClusterHealth.READY), cluster=name)
    yield CORDONED.sample(int(bool(nodes) and not any(n.schedulable for n in nodes)), cluster=name)
    yield CAPACITY_CPU.sample(sum(n.allocatable_cpu_millis for n in nodes) / 1000, cluster=name)
    yield CAPACITY_MEMORY.sample(sum(n.allocatable_memory_bytes for n in nodes), cluster=name)
    yield REQUESTED_CPU.sample(sum(n.requested_cpu_millis for n in nodes) / 1000, cluster=name)
    yield REQUESTED_MEMORY.sample(sum(n.requested_memory_bytes for n in nodes), cluster=name)
    yield RESERVED_MEMBERS.sample(sum(r.members for r in promised), cluster=name)
    yield RESERVED_CPU.sample(sum(r.members * r.shape.cpu_millis for r in promised) / 1000, cluster=name)
    yield RESERVED_MEMORY.sample(sum(r.members * r.shape.memory_bytes for r in promised), cluster=name)
