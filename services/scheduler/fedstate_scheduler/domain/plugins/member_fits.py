"""Filter: at least one member (mongod plus exporter sidecar) must fit on a single node.

Sets the candidate's capacity: how many members of this instance the cluster can hold,
after deducting in-flight reservations and counting the members it already holds.
"""

from __future__ import annotations

from collections.abc import Sequence

from fedstate.models.cluster import NodeResources

from ..capacity import NodeRoom, members_fitting, members_fitting_nodes, pack_reservations, rooms, shortage
from ..framework import Candidate, Context, NodeFits, Rejection, Scope
from ..request import MemberShape, Reservation

NAME = "MemberFits"


class MemberFits:
    name = NAME
    scope: Scope = "nodes"

    def node_fits(self, ctx: Context, cluster: str) -> NodeFits | None:
        """Members per node, when the cluster's count is their sum: not while reservations are packed."""
        if ctx.reservations.get(cluster):
            return None
        shape = ctx.shape
        return lambda node: NodeRoom.of(node).fits(shape)

    def filter(self, ctx: Context, candidate: Candidate) -> Candidate | Rejection:
        """Each member's requests must fit on ONE remaining node, the cluster's sum is not enough."""
        reserved = ctx.reservations.get(candidate.name, ())
        # The nodes left depend on the node-level parameters only; packing on the promised shapes, in order.
        key = (NAME, ctx.node_key, ctx.shape, ctx.reserved_shapes(candidate.name))
        fitting = candidate.table.remember(key, lambda: _fitting(candidate.nodes, ctx.shape, reserved))
        held = ctx.current.get(candidate.name, 0)
        if fitting or held:
            return candidate.holding(fitting + held)
        node_rooms = rooms(candidate.nodes)
        pack_reservations(node_rooms, reserved)
        reason, detail = shortage(node_rooms, ctx.shape)
        if reserved:
            detail += f" ({sum(r.members for r in reserved)} members reserved by in-flight placements)"
        return Rejection(NAME, reason, detail)


def _fitting(nodes: Sequence[NodeResources], shape: MemberShape, reserved: Sequence[Reservation]) -> int:
    if not reserved:
        return members_fitting_nodes(nodes, shape)
    node_rooms = rooms(nodes)
    pack_reservations(node_rooms, reserved)
    return members_fitting(node_rooms, shape)
