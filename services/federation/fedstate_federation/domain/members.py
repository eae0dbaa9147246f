"""Which replica-set members (by stable ordinal) live in which member cluster."""

from __future__ import annotations

from collections.abc import Mapping

Assignment = dict[str, list[int]]


def assign_members(current: Mapping[str, list[int]], wanted: Mapping[str, int]) -> Assignment:
    """Keep every existing member where it is while its cluster still wants it; new members get the
    lowest free ordinals, so a member's ``_id`` and Kubernetes names never change over its life.

    ``wanted`` is the placement: cluster → number of members. Clusters are visited in name order
    so the result is deterministic.
    """
    kept: Assignment = {}
    for cluster in sorted(wanted):
        existing = sorted(current.get(cluster, []))
        kept[cluster] = existing[: wanted[cluster]]
    used = {ordinal for ordinals in kept.values() for ordinal in ordinals}
    free = (n for n in range(10_000) if n not in used)
    for cluster in sorted(wanted):
        missing = wanted[cluster] - len(kept[cluster])
        kept[cluster] = sorted(kept[cluster] + [next(free) for _ in range(missing)])
    return {cluster: ordinals for cluster, ordinals in kept.items() if ordinals}


def member_name(instance: str, ordinal: int) -> str:
    """Kubernetes name of a member's Service and StatefulSet."""
    return f"{instance}-m{ordinal}"
