"""Filter: at least one member (mongod plus exporter sidecar) must fit on a single node.

Sets the candidate's capacity: how many members of this instance the cluster can hold,
after deducting in-flight reservations and counting the members it already holds.
"""

from __future__ import annotations

from ..capacity import members_fitting, members_fitting_nodes, pack_reservations, rooms, shortage
from ..framework import Candidate, Context, Rejection
from ..memo import SnapshotMemo, memo

NAME = "MemberFits"
_MEMO: SnapshotMemo[int] = memo()


class MemberFits:
    name = NAME

    def filter(self, ctx: Context, candidate: Candidate) -> Candidate | Rejection:
        """Each member's requests must fit on ONE remaining node, the cluster's sum is not enough."""
        reserved = ctx.reservations.get(candidate.name, ())
        if reserved:
            node_rooms = rooms(candidate.nodes)
            pack_reservations(node_rooms, reserved)
            fitting = members_fitting(node_rooms, ctx.shape)
        else:
            key = (ctx.node_key, ctx.shape)
            fitting = _MEMO.get(candidate.snapshot, key, lambda: members_fitting_nodes(candidate.nodes, ctx.shape))
        held = ctx.current.get(candidate.name, 0)
        if fitting or held:
            return Candidate(candidate.snapshot, candidate.nodes, fitting + held)
        node_rooms = rooms(candidate.nodes)
        pack_reservations(node_rooms, reserved)
        reason, detail = shortage(node_rooms, ctx.shape)
        if reserved:
            detail += f" ({sum(r.members for r in reserved)} members reserved by in-flight placements)"
        return Rejection(NAME, reason, detail)
