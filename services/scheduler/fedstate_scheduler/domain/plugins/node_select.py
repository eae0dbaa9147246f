"""Filter: spreadConstraints.nodeSelect labels must match some node of the cluster."""

from __future__ import annotations

from ..framework import Candidate, Context, NodeTest, NodeVerdict, Rejection, Scope, kept

NAME = "NodeSelect"


class NodeSelect:
    name = NAME
    scope: Scope = "nodes"

    def keeps(self, ctx: Context) -> NodeTest | None:
        pairs = ctx.spec.spread_constraints.node_select.items()
        return (lambda node: pairs <= node.labels.items()) if pairs else None

    def filter(self, ctx: Context, candidate: Candidate) -> Candidate | Rejection:
        """Keep the nodes carrying every nodeSelect label; a cluster without any such node is rejected."""
        if not ctx.spec.spread_constraints.node_select:
            return candidate
        return kept(candidate, candidate.table.remember((NAME, ctx.node_key), lambda: _select(ctx, candidate)))


def _select(ctx: Context, candidate: Candidate) -> NodeVerdict:
    wanted = ctx.spec.spread_constraints.node_select
    pairs = wanted.items()
    index = candidate.table.labelled
    if index is not None and candidate.nodes is candidate.table.nodes:  # an interned table: look them up
        fewest = min((index.get(pair, ()) for pair in pairs), key=len)
        nodes = fewest if len(wanted) == 1 else tuple([node for node in fewest if pairs <= node.labels.items()])
    elif len(wanted) == 1:  # the common case, kept to one dict lookup per node
        ((key, value),) = pairs
        nodes = tuple([node for node in candidate.nodes if node.labels.get(key) == value])
    else:  # items() views compare as sets: every wanted pair is among the node's labels
        nodes = tuple([node for node in candidate.nodes if pairs <= node.labels.items()])
    if nodes:
        return nodes
    selector = ",".join(f"{k}={v}" for k, v in sorted(pairs))
    return Rejection(NAME, "node selector mismatch", f"no node has {selector}")
