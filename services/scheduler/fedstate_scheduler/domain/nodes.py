"""A cluster's nodes as the filters see them, interned by content.

A collector heartbeat is a new ``ClusterSnapshot`` every few seconds, but its nodes are
usually those of the last one: only ``observed_at`` moved. So the node-level verdicts
(nodeSelect, affinity, taints, readiness, how many members fit) are remembered on a
``NodeTable``, and a snapshot whose nodes are *equal* to an earlier one's gets that same
table back. The fingerprint is every node's field values (its ``__dict__``, what pydantic's
own ``==`` compares), compared in full: equal nodes give the same table, so the same
verdicts, so ``decide`` stays a function of its request's content. A node that changed
(a pod started) makes a new table, computed afresh.

Snapshots are treated as values: a snapshot must not be mutated once a decision has seen it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Hashable, Sequence
from typing import Any, ParamSpec, TypeVar, cast

from fedstate.models.cluster import ClusterSnapshot, NodeResources

from .memo import ContentMemo, SnapshotMemo, content_memo, memo

R = TypeVar("R")
P = ParamSpec("P")

# Distinct spec parameter sets (nodeSelect, affinity, tolerations, shape, ...) remembered per table.
MAX_RESULTS_PER_TABLE = 64

Fingerprint = list[dict[str, Any]]


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


def fingerprint(nodes: Sequence[NodeResources]) -> Fingerprint:
    """The nodes' content: compared element by element, an unchanged node object compares by identity."""
    return list(map(vars, nodes))


_BY_CONTENT: ContentMemo[Fingerprint, NodeTable] = content_memo()
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
    return _BY_CONTENT.get(snapshot.name, fingerprint(snapshot.nodes), NodeTable, tuple(snapshot.nodes))
