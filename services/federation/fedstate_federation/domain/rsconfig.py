"""The replica-set configuration the orchestrator wants, from placement and observed addresses."""

from __future__ import annotations

from collections.abc import Mapping

from fedstate.models.placement import Placement
from fedstate.models.replicaset import RsConfig, RsMember

from .members import Assignment


def voting_ordinals(assignment: Assignment, placement: Placement) -> set[int]:
    """The first ``voters`` members of each cluster vote; the placement already capped voters at 7."""
    voters_by_cluster = {a.cluster: a.voters for a in placement.clusters}
    return {
        ordinal
        for cluster, ordinals in assignment.items()
        for ordinal in sorted(ordinals)[: voters_by_cluster.get(cluster, 0)]
    }


def initial_config(
    repl_set: str, assignment: Assignment, placement: Placement, addresses: Mapping[int, str]
) -> RsConfig | None:
    """The config to initiate with, or None while some member's ``VIP:NodePort`` is still unknown."""
    ordinals = sorted(o for members in assignment.values() for o in members)
    if any(o not in addresses for o in ordinals):
        return None
    voters = voting_ordinals(assignment, placement)
    members = [
        RsMember.model_validate(
            {"_id": o, "host": addresses[o], "votes": int(o in voters), "priority": 1 if o in voters else 0}
        )
        for o in ordinals
    ]
    return RsConfig.model_validate({"_id": repl_set, "version": 1, "members": members})


def choose_initiator(assignment: Assignment, placement: Placement, previous: str | None) -> str | None:
    """The cluster whose agent runs replica-set admin: sticky, else the one with most voters (then name)."""
    if previous in assignment:
        return previous
    voters = {a.cluster: a.voters for a in placement.clusters}
    candidates = sorted(assignment, key=lambda c: (-voters.get(c, 0), c))
    return candidates[0] if candidates else None
