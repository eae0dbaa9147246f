"""The scheduler's per-cluster metrics: capacity in base units, Ready by heartbeat, cordoned when no node takes
pods, and the capacity promised to placements whose members have not started yet."""

from __future__ import annotations

from datetime import timedelta

from scheduler_builders import GI, NOW, cluster

from fedstate.scrape import Sample
from fedstate_scheduler.domain import MemberShape, Reservation
from fedstate_scheduler.domain.cluster_metrics import cluster_samples
from fedstate_scheduler.metrics import failover_blocked_samples

THRESHOLD = timedelta(seconds=20)


def by_name(samples: list[Sample], name: str) -> dict[str, float]:
    return {s.labels["cluster"]: s.value for s in samples if s.family.name == name}


def test_capacity_and_reserved_members_are_in_cores_and_bytes() -> None:
    shape = MemberShape(cpu_millis=500, memory_bytes=GI)
    promised = [Reservation("a", 2, shape, "t.ns.mcm.x"), Reservation("a", 1, shape, "t.ns.mcm.y")]
    samples = list(cluster_samples([cluster("a", nodes=3, cpu=4000, memory=8 * GI)], promised, NOW, THRESHOLD))
    assert {"a": 12.0} == by_name(samples, "fedstate_cluster_capacity_cpu_cores")
    assert {"a": 24.0 * GI} == by_name(samples, "fedstate_cluster_capacity_memory_bytes")
    assert {"a": 3.0} == by_name(samples, "fedstate_cluster_reserved_members")
    assert {"a": 1.5} == by_name(samples, "fedstate_cluster_reserved_cpu_cores")
    assert {"a": 3.0 * GI} == by_name(samples, "fedstate_cluster_reserved_memory_bytes")


def test_a_cluster_is_ready_while_its_heartbeat_is_within_the_threshold() -> None:
    fresh, stale = cluster("fresh", observed_at=NOW - THRESHOLD), cluster("stale", observed_at=NOW - 2 * THRESHOLD)
    samples = list(cluster_samples([fresh, stale], [], NOW, THRESHOLD))
    assert {"fresh": 1.0, "stale": 0.0} == by_name(samples, "fedstate_cluster_ready")
    assert {"fresh": 20.0, "stale": 40.0} == by_name(samples, "fedstate_cluster_heartbeat_age_seconds")


def test_a_cluster_is_cordoned_only_when_no_node_takes_pods() -> None:
    some = cluster("some")
    some = some.model_copy(update={"nodes": [some.nodes[0].model_copy(update={"schedulable": False}), *some.nodes[1:]]})
    every = cluster("every")
    every = every.model_copy(update={"nodes": [n.model_copy(update={"schedulable": False}) for n in every.nodes]})
    samples = list(cluster_samples([some, every], [], NOW, THRESHOLD))
    assert {"some": 0.0, "every": 1.0} == by_name(samples, "fedstate_cluster_cordoned")


def test_a_blocked_failover_is_labelled_by_instance_not_by_key() -> None:
    [sample] = failover_blocked_samples({"t.ns.multicloudmongodb.rs"})
    assert {"tenant": "t", "namespace": "ns", "multicloudmongodb": "rs"} == sample.labels
