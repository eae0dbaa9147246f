"""A cluster's nodes as the filters see them, interned by content as heartbeats arrive.

A collector heartbeat is a new ``ClusterSnapshot`` every few seconds, but its nodes are
usually those of the last one: only ``observed_at`` moved. The node-level verdicts
(nodeSelect, affinity, taints, readiness, how many members fit) are remembered on a
``NodeTable``, and ``interned`` gives a snapshot whose nodes are *equal* to an earlier
one's that same table back, and the same node objects. Equal means every field of every
node (``Content``), compared in full, never a hash alone: equal nodes give the same table,
so the same verdicts, so ``decide`` stays a function of its request's content. A node
that changed (a pod started) makes a new table, computed afresh.

The comparison is made once per heartbeat, where the service decodes it. ``decide`` only
looks a snapshot's table up by identity (``table_of``), and builds one for a snapshot it
has never seen: comparing 5,000 freshly decoded nodes field by field costs more than
filtering them.

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

    __slots__ = ("_results", "base", "changed", "labelled", "nodes")

    def __init__(self, nodes: tuple[NodeResources, ...], base: NodeTable | None = None) -> None:
        self.nodes = nodes
        self._results: dict[Hashable, object] = {}
        # The cluster's previous table when this one differs from it in a few nodes at the same places:
        # its verdicts then give this table's by looking at the changed nodes only (framework.py).
        self.base: NodeTable | None = None
        self.changed: tuple[int, ...] = ()
        if base is not None and len(base.nodes) == len(nodes):
            if all(old.name == new.name for old, new in zip(base.nodes, nodes, strict=True)):
                self.base = base
                self.changed = tuple(
                    i for i, (old, new) in enumerate(zip(base.nodes, nodes, strict=True)) if old is not new
                )
                base.base = None  # one step back only: no chain of old tables stays alive
        # (label, value) → the nodes carrying it, in order; built as a heartbeat is interned, off the
        # decisions' path (a table a decision builds itself goes without: one scan is cheaper than it).
        self.labelled: dict[tuple[str, str], tuple[NodeResources, ...]] | None = None

    def index_labels(self) -> None:
        index: dict[tuple[str, str], list[NodeResources]] = {}
        for node in self.nodes:
            for pair in node.labels.items():
                index.setdefault(pair, []).append(node)
        self.labelled = {pair: tuple(nodes) for pair, nodes in index.items()}

    def recalled(self, key: Hashable) -> object | None:
        """What was computed for ``key``, if anything."""
        return self._results.get(key)

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
    """The snapshot's table: the one it was interned with, else a new one (the same for the same object)."""
    return _BY_SNAPSHOT.get(snapshot, None, _fresh, snapshot)


def interned(snapshot: ClusterSnapshot) -> ClusterSnapshot:
    """An equal snapshot whose nodes are the interned ones, its table found now: what the service keeps.

    Called as a heartbeat arrives, it finds the verdicts of an earlier heartbeat with equal
    nodes, and keeps one copy of unchanged nodes alive rather than one per heartbeat.
    """
    nodes = tuple(snapshot.nodes)
    # Filed under the cluster's name only to find candidates fast; a hit needs equal nodes.
    table = _BY_CONTENT.find(snapshot.name, Content(nodes))
    if table is None:
        last = _BY_CONTENT.latest(snapshot.name)
        table = NodeTable(_reusing(last, nodes), base=last)
        table.index_labels()
        _BY_CONTENT.file(snapshot.name, Content(table.nodes), table)
    if not all(map(operator.is_, table.nodes, nodes)):
        snapshot = snapshot.model_copy(update={"nodes": list(table.nodes)})
    _BY_SNAPSHOT.get(snapshot, None, lambda: table)  # decisions then find the table by identity
    return snapshot


def _reusing(last: NodeTable | None, nodes: tuple[NodeResources, ...]) -> tuple[NodeResources, ...]:
    """The nodes, each replaced by the last table's node of that name when equal: a pod started on
    one node leaves the others shared."""
    known = {node.name: node for node in last.nodes} if last else {}
    return tuple([_same(known.get(node.name), node) for node in nodes])


def _same(old: NodeResources | None, new: NodeResources) -> NodeResources:
    return old if old is not None and vars(old) == vars(new) else new


def _fresh(snapshot: ClusterSnapshot) -> NodeTable:
    return NodeTable(tuple(snapshot.nodes))
