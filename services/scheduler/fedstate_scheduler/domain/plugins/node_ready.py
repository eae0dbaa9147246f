"""Filter: members only go to nodes that are Ready and not cordoned."""

from __future__ import annotations

from ..framework import Candidate, Context, NodeVerdict, Rejection, Scope, kept

NAME = "NodeReady"


class NodeReady:
    name = NAME
    scope: Scope = "nodes"

    def filter(self, ctx: Context, candidate: Candidate) -> Candidate | Rejection:
        """Keep the nodes that are ready and schedulable; a cluster without any is rejected."""
        return kept(candidate, candidate.table.remember((NAME, ctx.node_key), lambda: _ready(candidate)))


def _ready(candidate: Candidate) -> NodeVerdict:
    nodes = tuple([node for node in candidate.nodes if node.ready and node.schedulable])
    if nodes:
        return nodes
    return Rejection(NAME, "no schedulable node", f"{len(candidate.nodes)} candidate nodes, none ready and schedulable")
