"""Where the arbiter goes, if the instance gets one.

MongoDB: an arbiter only turns an even number of data members into an odd number of
voters, and it must not share a failure domain with the data it arbitrates. At cluster
level that means: never in the cluster holding the most data members, preferably in a
cluster holding none (a tie-breaker site).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from fedstate.models.multicloud import MultiCloudMongoDBSpec

from .modes import Slot
from .quorum import MAX_VOTERS, VoterPlan


def arbiter_wanted(spec: MultiCloudMongoDBSpec) -> tuple[bool, str | None]:
    """Whether config.arbiter applies, and a warning when it was asked for but cannot help."""
    if not spec.config.arbiter:
        return False, None
    data = spec.replicaset
    if data % 2:
        return False, f"ArbiterSkipped: {data} data members are already odd; an arbiter would make the voters even"
    if data + 1 > MAX_VOTERS:
        return False, f"ArbiterSkipped: {data} data members already give {MAX_VOTERS} voters, the most MongoDB allows"
    return True, None


@dataclass(frozen=True)
class ArbiterSite:
    cluster: str | None
    members: dict[str, int]  # data members per cluster, after at most one forced move
    moved: int


def place_arbiter(
    members: Mapping[str, int], slots: Sequence[Slot], plan: VoterPlan, current: str | None
) -> ArbiterSite:
    """The arbiter's cluster; moves one data member when every candidate holds the most data members."""
    layout = dict(members)
    site = _best_site(layout, slots, plan, current)
    if site is not None:
        return ArbiterSite(site, layout, 0)
    for source in sorted((s for s in slots if layout.get(s.name)), key=lambda s: (layout[s.name], -s.score, s.name)):
        for target in sorted(slots, key=lambda s: (-layout.get(s.name, 0), -s.score, s.name)):
            if target is source or layout.get(target.name, 0) >= target.capacity:
                continue
            trial = dict(layout)
            trial[source.name] -= 1
            trial[target.name] = trial.get(target.name, 0) + 1
            if plan.cap is not None and _group_members(trial, slots, target.groups[0]) > plan.cap:
                continue  # the moved member would give its group a voting majority
            site = _best_site(trial, slots, plan, current)
            if site is not None:
                return ArbiterSite(site, {n: c for n, c in sorted(trial.items()) if c}, 1)
    return ArbiterSite(None, layout, 0)


def _best_site(layout: Mapping[str, int], slots: Sequence[Slot], plan: VoterPlan, current: str | None) -> str | None:
    most = max(layout.values(), default=0)
    per_group: Counter[str] = Counter()
    for slot in slots:
        per_group[slot.groups[0]] += layout.get(slot.name, 0)
    fitting = [
        slot
        for slot in slots
        if layout.get(slot.name, 0) < most
        and layout.get(slot.name, 0) < slot.capacity
        and (plan.cap is None or per_group[slot.groups[0]] + 1 <= plan.cap)
    ]
    best = min(
        fitting,
        key=lambda s: (s.name != current, layout.get(s.name, 0) > 0, layout.get(s.name, 0), -s.score, s.name),
        default=None,
    )
    return best.name if best else None


def _group_members(layout: Mapping[str, int], slots: Sequence[Slot], group: str) -> int:
    return sum(layout.get(slot.name, 0) for slot in slots if slot.groups[0] == group)
