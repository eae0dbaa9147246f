"""The plugin framework: candidates, rejections, the filter and score protocols.

A filter looks at one candidate cluster and either passes it on (possibly with fewer
nodes left that could host a member) or rejects it with a short reason code plus a
detail a human can act on. A score plugin rates every surviving candidate at once, so
it can normalise against the best (karmada's Score + NormalizeScore in one step).

A filter of scope ``nodes`` judges the cluster's nodes only: its verdict depends on the
nodes' content and the node-level parameters (``Context.node_params``), so the filters
after the last ``cluster``-scoped one run once per node table and parameters, and their
joint verdict is remembered on the table (``nodes.py``).

Those filters also say what they decide per node (``NodeFilter.keeps``, and for the last one,
``CapacityFilter.node_fits``): a table that differs from the cluster's previous one in a few
nodes then gets its verdict from the previous verdict and those nodes alone, not from all of
them (``_from_base``). The whole-table run stays the reference: it makes every rejection, and
a property test checks both give the same placements.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Literal, Protocol, cast, runtime_checkable

from fedstate.models.cluster import ClusterSnapshot, NodeResources
from fedstate.models.multicloud import MultiCloudMongoDBSpec

from .nodes import NodeTable, table_of
from .request import MemberShape, Reservation

Scope = Literal["cluster", "nodes"]


@dataclass(frozen=True)
class Context:
    """What every plugin may consult besides the candidate itself.

    A ``nodes``-scoped filter reads only ``node_params(cluster)``: the spec's node-level
    fields (``node_key``), the member shape, the cluster's reservations and current members.
    """

    spec: MultiCloudMongoDBSpec
    shape: MemberShape
    now: datetime
    failure_threshold: timedelta
    reservations: Mapping[str, tuple[Reservation, ...]] = field(default_factory=dict)
    current: Mapping[str, int] = field(default_factory=dict)  # members this instance holds per cluster
    namespace: str = ""  # the instance's namespace

    @cached_property
    def node_key(self) -> Hashable:
        """A fingerprint of every spec field node-level filters read (nodeSelect, affinity, tolerations)."""
        scheduler, select = self.spec.scheduler, self.spec.spread_constraints.node_select
        return json.dumps([select, scheduler.affinity, scheduler.tolerations], sort_keys=True, default=str)

    @cached_property
    def node_shape_key(self) -> str:
        """``node_key`` and the member shape in one string, whose hash is computed once."""
        return repr((self.node_key, self.shape))

    def reserved_shapes(self, cluster: str) -> tuple[tuple[int, MemberShape], ...]:
        """The cluster's reservations as packing sees them: members and shape, in order."""
        reserved = self.reservations.get(cluster)
        return tuple([(r.members, r.shape) for r in reserved]) if reserved else ()

    def node_params(self, cluster: str) -> Hashable:
        """Every input a ``nodes``-scoped filter may read besides the nodes, for one cluster."""
        return (self.node_shape_key, self.reserved_shapes(cluster), self.current.get(cluster, 0))


@dataclass(frozen=True, slots=True)
class Candidate:
    """A cluster still in the running, with the nodes that could still host a member.

    ``table`` holds the cluster's nodes by content: node-level filters remember their
    verdicts there (``table.remember``), keyed on the spec parameters they read.
    """

    snapshot: ClusterSnapshot
    table: NodeTable
    nodes: tuple[NodeResources, ...]
    capacity: int = 0  # members of this instance the cluster can hold, its current ones included
    # The most members of this instance the cluster may hold whatever its nodes' room (its namespace's quotas, its
    # current members included): applied to the capacity the node filters find, after their verdict is remembered
    # for every instance of the same shape.
    cap: int | None = None

    @classmethod
    def of(cls, snapshot: ClusterSnapshot) -> Candidate:
        table = table_of(snapshot)
        return cls(snapshot, table, table.nodes)

    @property
    def name(self) -> str:
        return self.snapshot.name

    def keeping(self, nodes: Sequence[NodeResources]) -> Candidate:
        if len(nodes) == len(self.nodes):
            return self
        return Candidate(self.snapshot, self.table, tuple(nodes), self.capacity, self.cap)

    def holding(self, capacity: int) -> Candidate:
        return Candidate(self.snapshot, self.table, self.nodes, capacity, self.cap)

    def capped(self, cap: int) -> Candidate:
        return Candidate(self.snapshot, self.table, self.nodes, self.capacity, cap)

    def within_cap(self, nodes: tuple[NodeResources, ...], capacity: int) -> Candidate:
        """The node filters' verdict, bounded by ``cap``."""
        bounded = capacity if self.cap is None else min(capacity, self.cap)
        return Candidate(self.snapshot, self.table, nodes, bounded, self.cap)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a cluster cannot host this instance: a reason code to count, and a detail to read."""

    plugin: str
    reason: str  # e.g. "insufficient memory"; summaries count clusters per reason
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}" if self.detail else self.reason


NodeVerdict = tuple[NodeResources, ...] | Rejection
"""A node-level filter's answer for one cluster: the nodes it keeps, or why none."""

ChainVerdict = tuple[tuple[NodeResources, ...], int] | Rejection
"""The joint answer of the ``nodes``-scoped filters: the nodes left and the capacity, or why not."""


def kept(candidate: Candidate, verdict: NodeVerdict) -> Candidate | Rejection:
    return verdict if isinstance(verdict, Rejection) else candidate.keeping(verdict)


class FilterPlugin(Protocol):
    name: str
    scope: Scope  # "cluster": reads the snapshot or the clock; "nodes": see Context.node_params

    def filter(self, ctx: Context, candidate: Candidate) -> Candidate | Rejection: ...


NodeTest = Callable[[NodeResources], bool]
NodeFits = Callable[[NodeResources], int]


@runtime_checkable
class NodeFilter(Protocol):
    """A ``nodes``-scoped filter that keeps each node on its own merits."""

    def keeps(self, ctx: Context) -> NodeTest | None:
        """The test a node must pass, or None when every node passes."""
        ...


@runtime_checkable
class CapacityFilter(Protocol):
    """The last ``nodes``-scoped filter: how many members the cluster holds."""

    def node_fits(self, ctx: Context, cluster: str) -> NodeFits | None:
        """Members each node can take, when the cluster's capacity is their sum (else None)."""
        ...


class ScorePlugin(Protocol):
    name: str

    def score(self, ctx: Context, candidates: Sequence[Candidate]) -> list[float]: ...


def run_filters(
    filters: Sequence[FilterPlugin], ctx: Context, snapshots: Sequence[ClusterSnapshot]
) -> tuple[list[Candidate], dict[str, Rejection]]:
    """Every snapshot through every filter in order; the first rejection is the cluster's verdict."""
    split = max((i + 1 for i, plugin in enumerate(filters) if plugin.scope != "nodes"), default=0)
    head, tail = filters[:split], filters[split:]
    chain = " ".join(["filters:", *(plugin.name for plugin in tail)])
    passed: list[Candidate] = []
    rejected: dict[str, Rejection] = {}
    for snapshot in snapshots:
        outcome = _through(head, ctx, Candidate.of(snapshot))
        if tail and isinstance(outcome, Candidate):
            outcome = _through_nodes(tail, chain, ctx, outcome)
        if isinstance(outcome, Rejection):
            rejected[snapshot.name] = outcome
        else:
            passed.append(outcome)
    return passed, rejected


def _through(filters: Sequence[FilterPlugin], ctx: Context, candidate: Candidate) -> Candidate | Rejection:
    for plugin in filters:
        outcome = plugin.filter(ctx, candidate)
        if isinstance(outcome, Rejection):
            return outcome
        candidate = outcome
    return candidate


def _through_nodes(
    filters: Sequence[FilterPlugin], chain: Hashable, ctx: Context, candidate: Candidate
) -> Candidate | Rejection:
    """The ``nodes``-scoped filters, run once per node table and node-level parameters."""
    key = (chain, ctx.node_params(candidate.name))
    verdict = candidate.table.remember(key, _judge, filters, ctx, candidate, key)
    if isinstance(verdict, Rejection):
        return verdict
    nodes, capacity = verdict
    return candidate.within_cap(nodes, capacity)


def _judge(filters: Sequence[FilterPlugin], ctx: Context, candidate: Candidate, key: Hashable) -> ChainVerdict:
    verdict = _from_base(filters, ctx, candidate, key)
    if verdict is not None:
        return verdict
    outcome = _through(filters, ctx, candidate)
    return outcome if isinstance(outcome, Rejection) else (outcome.nodes, outcome.capacity)


def _from_base(
    filters: Sequence[FilterPlugin], ctx: Context, candidate: Candidate, key: Hashable
) -> ChainVerdict | None:
    """The verdict from the previous table's verdict for the same parameters, looking only at the
    nodes that changed; None when that does not apply (no such verdict, a rejection either side,
    reservations packed onto the nodes, a changed node that joins the kept ones) and the whole table
    must be judged."""
    table = candidate.table
    base = table.base
    if base is None or candidate.nodes is not table.nodes or not _judged_per_node(tuple(filters)):
        return None
    previous = base.recalled(key)
    if not isinstance(previous, tuple):
        return None
    *node_filters, capacity_filter = filters
    fits = cast(CapacityFilter, capacity_filter).node_fits(ctx, candidate.name)
    if fits is None:
        return None
    tests = [test for plugin in node_filters if (test := cast(NodeFilter, plugin).keeps(ctx)) is not None]
    kept: tuple[NodeResources, ...] = previous[0]
    capacity: int = previous[1]
    kept_ids = {id(node) for node in kept}
    swapped: dict[int, NodeResources | None] = {}  # a kept node → its successor, or None when it goes
    for index in table.changed:
        old, new = base.nodes[index], table.nodes[index]
        passes = all(test(new) for test in tests)
        if id(old) in kept_ids:
            capacity -= fits(old)
            swapped[id(old)] = new if passes else None
        elif passes:
            return None  # it would join the kept nodes somewhere in their order: judge the whole table
        if passes:
            capacity += fits(new)
    nodes = tuple([now for node in kept if (now := swapped.get(id(node), node)) is not None])
    if not nodes or (capacity <= 0 and not ctx.current.get(candidate.name, 0)):
        return None  # a rejection (no node, or no room and no member held here): the whole-table run words it
    return nodes, capacity


@functools.cache
def _judged_per_node(filters: tuple[FilterPlugin, ...]) -> bool:
    """Every filter but the last keeps nodes one by one and the last sums members over them."""
    *node_filters, capacity_filter = filters
    return isinstance(capacity_filter, CapacityFilter) and all(isinstance(p, NodeFilter) for p in node_filters)


def run_scores(scorers: Sequence[ScorePlugin], ctx: Context, candidates: Sequence[Candidate]) -> dict[str, float]:
    """The sum of every plugin's score per cluster."""
    totals = dict.fromkeys((c.name for c in candidates), 0.0)
    for plugin in scorers:
        for candidate, value in zip(candidates, plugin.score(ctx, candidates), strict=True):
            totals[candidate.name] += value
    return totals
