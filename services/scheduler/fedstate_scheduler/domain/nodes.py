"""A cluster's nodes as the filters see them, interned by content.

A collector heartbeat is a new ``ClusterSnapshot`` every few seconds, but its nodes are
usually those of the last one: only ``observed_at`` moved. So the node-level verdicts
(nodeSelect, affinity, taints, readiness, how many members fit) are remembered on a
``NodeTable``, and a snapshot whose nodes are *equal* to an earlier one's gets that same
table back. Equal means every field of every node (``Content``), compared in full, never
a hash alone: equal nodes give the same table, so the same verdicts, so ``decide`` stays a
function of its request's content. A node that changed (a pod started) makes a new table,
computed afresh.

Snapshots are treated as values: a snapshot must not be mutated once a decision has seen it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Hashable
from typing import ParamSpec, TypeVar, cast

from fedstate.models.cluster import ClusterSnapshot, NodeResources

from .memo import ContentMemo, SnapshotMemo, content_memo, memo

R = TypeVar("R")
P = ParamSpec("P")

# Distinct spec parameter sets (nodeSelect, affinity, tolerations, shape, ...) remembered per table.
MAX_RESULTS_PER_TABLE = 64


class NodeTable:
    """The nodes of one cluster content, and the node-level results computed for them."""

    __slots__ = ("_results", "nodes")

    def __init__(self, nodes: tuple[NodeResources, ...]) -> None:
        self.nodes = nodes
        self._results: dict[Hashable, object] = {}

    def remember(self, key: Hashable, compute: Callable[P, R], *args: P.args, **kw: P.kwargs) -> R:
        """``compute(...)`` once per key; ``key`` must hold every spec parameter the computation reads."""
        if key in self._results:
            return cast(R, self._results[key])
        if len(self._results) >= MAX_RESULTS_PER_TABLE:
            self._results.clear()
        value = compute(*args, **kw)
        self._results[key] = value
        return value


class Content:
    """A cluster's nodes as a memo key: equal when every field of every node is equal.

    The fields are compared only when two contents meet (a first sight costs nothing), as
    the nodes' ``__dict__``s: what pydantic's own ``==`` compares, and an unchanged node
    object compares by identity.
    """

    __slots__ = ("nodes",)

    def __init__(self, nodes: tuple[NodeResources, ...]) -> None:
        self.nodes = nodes

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Content):
            return NotImplemented
        mine, theirs = self.nodes, other.nodes
        return len(mine) == len(theirs) and list(map(vars, mine)) == list(map(vars, theirs))


_BY_CONTENT: ContentMemo[Content, NodeTable] = content_memo()
_BY_SNAPSHOT: SnapshotMemo[NodeTable] = memo()


def table_of(snapshot: ClusterSnapshot) -> NodeTable:
    """The table for the snapshot's nodes: the same object for the same snapshot, or for equal nodes."""
    return _BY_SNAPSHOT.get(snapshot, None, _interned, snapshot)


def interned(snapshot: ClusterSnapshot) -> ClusterSnapshot:
    """An equal snapshot whose nodes are the interned ones, its table found now: what the service keeps.

    Called as a heartbeat arrives, it takes the node comparison out of the next decision, and
    keeps one copy of unchanged nodes alive rather than one per heartbeat.
    """
    table = _interned(snapshot)
    if not all(map(operator.is_, table.nodes, snapshot.nodes)):
        snapshot = snapshot.model_copy(update={"nodes": list(table.nodes)})
    _BY_SNAPSHOT.get(snapshot, None, lambda: table)  # decisions then find the table by identity
    return snapshot


def _interned(snapshot: ClusterSnapshot) -> NodeTable:
    # Filed under the cluster's name only to find candidates fast; a hit needs equal nodes.
    nodes = tuple(snapshot.nodes)
    return _BY_CONTENT.get(snapshot.name, Content(nodes), NodeTable, nodes)
