"""Which replica-set members (by stable ordinal) live in which member cluster."""

from __future__ import annotations

import math
from collections.abc import Mapping

Assignment = dict[str, list[int]]
ArbiterSeat = tuple[str, int]  # (cluster, ordinal)


def assign_members(
    current: Mapping[str, list[int]], wanted: Mapping[str, int], floor: int = 0, rank: Mapping[int, int] | None = None
) -> Assignment:
    """Keep every existing member where it is while its cluster still wants it; new members get the
    lowest ordinals that are at least ``floor`` and not in use, so a member's ``_id`` and Kubernetes
    names never change over its life, and an ordinal once given up is not handed out again (its
    retained volume must not be attached by a newcomer).

    ``wanted`` is the placement: cluster → number of members. Clusters are visited in name order
    so the result is deterministic. When a cluster wants fewer members than it has, those of the lowest
    ``rank`` stay (``staying_rank``: the PRIMARY, then healthy voters), then the lowest ordinals.
    """
    rank = rank or {}  # unranked members go last
    kept: Assignment = {}
    for cluster in sorted(wanted):
        existing = sorted(current.get(cluster, []), key=lambda ordinal: (rank.get(ordinal, math.inf), ordinal))
        kept[cluster] = existing[: wanted[cluster]]
    used = {ordinal for ordinals in current.values() for ordinal in ordinals}
    free = (n for n in range(floor, floor + 10_000) if n not in used)
    for cluster in sorted(wanted):
        missing = wanted[cluster] - len(kept[cluster])
        kept[cluster] = sorted(kept[cluster] + [next(free) for _ in range(missing)])
    return {cluster: ordinals for cluster, ordinals in kept.items() if ordinals}


def assign_arbiter(
    current: ArbiterSeat | None, cluster: str | None, taken: set[int], floor: int = 0
) -> ArbiterSeat | None:
    """The arbiter's seat: the same ordinal while it stays in the same cluster, else a fresh ordinal."""
    if cluster is None:
        return None
    if current is not None and current[0] == cluster:
        return current
    ordinal = next(n for n in range(floor, floor + 10_000) if n not in taken)
    return (cluster, ordinal)


def high_water(*ordinal_sets: set[int] | list[int], floor: int = 0) -> int:
    """One past the highest ordinal ever handed out (never lower than ``floor``)."""
    every = [o for ordinals in ordinal_sets for o in ordinals]
    return max([floor, *(o + 1 for o in every)])


def member_name(instance: str, ordinal: int) -> str:
    """Kubernetes name of a member's Service and StatefulSet."""
    return f"{instance}-m{ordinal}"
