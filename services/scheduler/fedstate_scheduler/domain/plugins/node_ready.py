"""Filter: members only go to nodes that are Ready and not cordoned."""

from __future__ import annotations

from fedstate.models.cluster import NodeResources

from ..framework import Candidate, Context, NodeTest, NodeVerdict, Rejection, Scope, kept


def schedulable(node: NodeResources) -> bool:
    return node.ready and node.schedulable


NAME = "NodeReady"


class NodeReady:
    name = NAME
    scope: Scope = "nodes"

    def keeps(self, ctx: Context) -> NodeTest | None:
        return schedulable

    def filter(self, ctx: Context, candidate: Candidate) -> Candidate | Rejection:
        """Keep the nodes that are ready and schedulable; a cluster without any is rejected."""
        return kept(candidate, candidate.table.remember((NAME, ctx.node_key), lambda: _ready(candidate)))


def _ready(candidate: Candidate) -> NodeVerdict:
    nodes = tuple(filter(schedulable, candidate.nodes))
    if nodes:
        return nodes
    return Rejection(NAME, "no schedulable node", f"{len(candidate.nodes)} candidate nodes, none ready and schedulable")
