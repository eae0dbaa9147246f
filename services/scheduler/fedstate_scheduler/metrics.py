"""The scheduler's Prometheus metrics (served on /metrics by ``fedstate.service``)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client import Counter, Gauge, Histogram

from fedstate.bus.names import parse_spec_key
from fedstate.scrape import Family, Sample, registered

from .domain import cluster_metrics

PLACEMENTS = Counter(
    "fedstate_scheduler_placements_total",
    "Placements computed, by result (scheduled | unschedulable) and write outcome",
    ["result", "outcome"],
)
UNSCHEDULABLE = Gauge("fedstate_scheduler_unschedulable", "Instances whose latest placement is unschedulable")
DECISION_SECONDS = Histogram(
    "fedstate_scheduler_decision_seconds",
    "Time of one pure placement decision",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
FAILOVER_HELD = Gauge(
    "fedstate_scheduler_failover_held",
    "1 while failover waits: most clusters holding members are silent at once (FEDSTATE_FAILOVER_HOLD_FRACTION)",
)
RESERVATIONS = Gauge("fedstate_scheduler_reserved_members", "Members promised to clusters but not yet seen there")
FAILOVER_BLOCKED = Family(
    "fedstate_instance_failover_blocked",
    "1 while the instance has members in a lost cluster and nowhere to move them",
    ("tenant", "namespace", "multicloudmongodb"),
)
# Per cluster, and the instances whose failover is blocked: rendered from the scheduler's mirror at each scrape.
CLUSTERS = registered((*cluster_metrics.FAMILIES, FAILOVER_BLOCKED))


def failover_blocked_samples(blocked: Iterable[str]) -> Iterator[Sample]:
    """One sample per spec key of an instance stranded in a lost cluster with an unschedulable placement."""
    for key in sorted(blocked):
        instance = parse_spec_key(key)
        yield FAILOVER_BLOCKED.sample(
            1, tenant=instance.tenant, namespace=instance.namespace, multicloudmongodb=instance.name
        )
