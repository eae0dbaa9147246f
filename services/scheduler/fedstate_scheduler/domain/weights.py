"""Per-cluster weights for the proportional modes.

Weighted: spec.scheduler.weights, each rule naming a cluster or a label selector; a cluster
takes the highest weight of the rules it matches (as Karmada's static weights), 0 if none.
Dynamic: the weight is how many members of this instance the cluster can hold.
"""

from __future__ import annotations

from collections.abc import Sequence

from fedstate.models.cluster import ClusterSnapshot
from fedstate.models.multicloud import ClusterWeight, SchedulerMode

from .framework import Candidate


def _matches(rule: ClusterWeight, snapshot: ClusterSnapshot) -> bool:
    if rule.cluster is not None and rule.cluster != snapshot.name:
        return False
    if rule.label_selector is not None:
        return all(snapshot.group_value(k) == v for k, v in rule.label_selector.items())
    return rule.cluster is not None


def static_weight(rules: Sequence[ClusterWeight], snapshot: ClusterSnapshot) -> int:
    return max((rule.weight for rule in rules if _matches(rule, snapshot)), default=0)


def weights_for(
    mode: SchedulerMode, rules: Sequence[ClusterWeight], candidates: Sequence[Candidate]
) -> dict[str, float]:
    if mode is SchedulerMode.DYNAMIC:
        return {c.name: float(c.capacity) for c in candidates}
    if mode is SchedulerMode.WEIGHTED and rules:
        return {c.name: float(static_weight(rules, c.snapshot)) for c in candidates}
    return {c.name: 1.0 for c in candidates}
