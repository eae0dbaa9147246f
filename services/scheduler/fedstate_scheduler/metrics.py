"""The scheduler's Prometheus metrics (served on /metrics by ``fedstate.service``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from fedstate.scrape import registered

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
RESERVATIONS = Gauge("fedstate_scheduler_reserved_members", "Members promised to clusters but not yet seen there")
# Per cluster, and the instances whose failover is blocked: rendered from the scheduler's mirror at each scrape.
CLUSTERS = registered(cluster_metrics.FAMILIES)
