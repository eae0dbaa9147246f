"""The replica-set configuration the orchestrator wants, from placement and observed addresses."""

from __future__ import annotations

from collections.abc import Mapping

from fedstate.models.placement import Placement
from fedstate.models.replicaset import RsConfig

from .configsteps import WantedMember, desired_config
from .members import ArbiterSeat, Assignment


def voting_ordinals(assignment: Assignment, placement: Placement) -> set[int]:
    """The first ``voters`` members of each cluster vote; the placement already capped voters at 7."""
    voters_by_cluster = {a.cluster: a.voters for a in placement.clusters}
    return {
        ordinal
        for cluster, ordinals in assignment.items()
        for ordinal in sorted(ordinals)[: voters_by_cluster.get(cluster, 0)]
    }


def wanted_members(
    assignment: Assignment, arbiter: ArbiterSeat | None, placement: Placement, addresses: Mapping[int, str]
) -> list[WantedMember]:
    """Every assigned member whose ``VIP:NodePort`` is known, with its role."""
    voters = voting_ordinals(assignment, placement)
    members = [
        WantedMember(o, addresses[o], o in voters)
        for ordinals in assignment.values()
        for o in ordinals
        if o in addresses
    ]
    if arbiter is not None and arbiter[1] in addresses:
        members.append(WantedMember(arbiter[1], addresses[arbiter[1]], True, arbiter=True))
    return members


def initial_config(
    repl_set: str,
    assignment: Assignment,
    placement: Placement,
    addresses: Mapping[int, str],
    arbiter: ArbiterSeat | None = None,
) -> RsConfig | None:
    """The config to initiate with, or None while some member's ``VIP:NodePort`` is still unknown."""
    ordinals = [o for members in assignment.values() for o in members] + ([arbiter[1]] if arbiter else [])
    if any(o not in addresses for o in ordinals):
        return None
    return desired_config(repl_set, wanted_members(assignment, arbiter, placement, addresses))


def choose_initiator(
    assignment: Assignment, placement: Placement, previous: str | None, holding: frozenset[str] = frozenset()
) -> str | None:
    """The cluster whose agent runs replica-set admin: sticky, else the one with most voters (then name).

    Once the set exists, only a cluster in ``holding`` (one with a member in the current config) keeps or takes
    the role: an agent whose members are all new sees no set from them and would try to initiate one
    (refused: the others hold data) instead of reconfiguring through the primary, and the set would be stuck."""
    if previous in assignment and (previous in holding or not holding):
        return previous
    voters = {a.cluster: a.voters for a in placement.clusters}
    eligible = [c for c in assignment if c in holding] or list(assignment)
    candidates = sorted(eligible, key=lambda c: (-voters.get(c, 0), c))
    return candidates[0] if candidates else None
