"""The plugin framework: candidates, rejections, the filter and score protocols.

A filter looks at one candidate cluster and either passes it on (possibly with fewer
nodes left that could host a member) or rejects it with a short reason code plus a
detail a human can act on. A score plugin rates every surviving candidate at once, so
it can normalise against the best (karmada's Score + NormalizeScore in one step).
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Protocol

from fedstate.models.cluster import ClusterSnapshot, NodeResources
from fedstate.models.multicloud import MultiCloudMongoDBSpec

from .request import MemberShape, Reservation


@dataclass(frozen=True)
class Context:
    """What every plugin may consult besides the candidate itself."""

    spec: MultiCloudMongoDBSpec
    shape: MemberShape
    now: datetime
    failure_threshold: timedelta
    reservations: Mapping[str, tuple[Reservation, ...]] = field(default_factory=dict)
    current: Mapping[str, int] = field(default_factory=dict)  # members this instance holds per cluster

    @cached_property
    def node_key(self) -> Hashable:
        """A fingerprint of every spec field node-level filters read (nodeSelect, affinity, tolerations)."""
        scheduler, select = self.spec.scheduler, self.spec.spread_constraints.node_select
        return json.dumps([select, scheduler.affinity, scheduler.tolerations], sort_keys=True, default=str)


@dataclass(frozen=True)
class Candidate:
    """A cluster still in the running, with the nodes that could still host a member."""

    snapshot: ClusterSnapshot
    nodes: tuple[NodeResources, ...]
    capacity: int = 0  # members of this instance the cluster can hold, its current ones included

    @classmethod
    def of(cls, snapshot: ClusterSnapshot) -> Candidate:
        return cls(snapshot, tuple(snapshot.nodes))

    @property
    def name(self) -> str:
        return self.snapshot.name

    def keeping(self, nodes: Sequence[NodeResources]) -> Candidate:
        return self if len(nodes) == len(self.nodes) else Candidate(self.snapshot, tuple(nodes), self.capacity)


@dataclass(frozen=True)
class Rejection:
    """Why a cluster cannot host this instance: a reason code to count, and a detail to read."""

    plugin: str
    reason: str  # e.g. "insufficient memory"; summaries count clusters per reason
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}" if self.detail else self.reason


NodeVerdict = tuple[NodeResources, ...] | Rejection
"""A node-level filter's answer for one cluster: the nodes it keeps, or why none."""


def kept(candidate: Candidate, verdict: NodeVerdict) -> Candidate | Rejection:
    return verdict if isinstance(verdict, Rejection) else candidate.keeping(verdict)


class FilterPlugin(Protocol):
    name: str

    def filter(self, ctx: Context, candidate: Candidate) -> Candidate | Rejection: ...


class ScorePlugin(Protocol):
    name: str

    def score(self, ctx: Context, candidates: Sequence[Candidate]) -> list[float]: ...


def run_filters(
    filters: Sequence[FilterPlugin], ctx: Context, snapshots: Sequence[ClusterSnapshot]
) -> tuple[list[Candidate], dict[str, Rejection]]:
    """Every snapshot through every filter in order; the first rejection is the cluster's verdict."""
    passed: list[Candidate] = []
    rejected: dict[str, Rejection] = {}
    for snapshot in snapshots:
        candidate = Candidate.of(snapshot)
        for plugin in filters:
            outcome = plugin.filter(ctx, candidate)
            if isinstance(outcome, Rejection):
                rejected[snapshot.name] = outcome
                break
            candidate = outcome
        else:
            passed.append(candidate)
    return passed, rejected


def run_scores(scorers: Sequence[ScorePlugin], ctx: Context, candidates: Sequence[Candidate]) -> dict[str, float]:
    """The sum of every plugin's score per cluster."""
    totals = dict.fromkeys((c.name for c in candidates), 0.0)
    for plugin in scorers:
        for candidate, value in zip(candidates, plugin.score(ctx, candidates), strict=True):
            totals[candidate.name] += value
    return totals
