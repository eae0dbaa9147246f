"""MongoDB's voting rules, as the scheduler applies them.

- At most 7 voters; we keep the number of voters odd (the largest odd number that the
  members allow), because an even number tolerates no more failures and, spread over
  sites, can lose its majority with a single site.
- An arbiter counts as a voter; it is only added to an even number of data members.
- With three or more groups (clusters, or regions/zones when that is the spread field),
  no group may hold a voting majority: at most ``voters // 2`` voters per group, so the
  loss of any one group leaves a majority.
- With fewer groups the placement still happens, and ``at_risk`` names the groups whose
  loss stops writes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MAX_VOTERS = 7
MIN_GROUPS_FOR_QUORUM = 3


def odd_voters(voting_candidates: int) -> int:
    """The largest odd number of voters, at most 7, that this many voting-capable members allow."""
    voters = min(voting_candidates, MAX_VOTERS)
    return voters if voters % 2 else voters - 1


def majority(voters: int) -> int:
    return voters // 2 + 1


@dataclass(frozen=True)
class VoterPlan:
    data_members: int
    arbiter: bool
    voters: int  # voting members, the arbiter included
    cap: int | None  # at most this many voters per quorum group, or None when the rule cannot apply

    @property
    def data_voters(self) -> int:
        return self.voters - self.arbiter


def plan_voters(data_members: int, arbiter: bool, group_room: Sequence[int]) -> VoterPlan:
    """Voters and the per-group cap, given how many members each quorum group could hold.

    When the groups' room cannot seat every voter under the cap, fewer voters are planned
    (never fewer than 3): a smaller majority that survives a group loss beats a bigger one
    that does not.
    """
    voters = odd_voters(data_members + arbiter)
    if len(group_room) < MIN_GROUPS_FOR_QUORUM or voters < MIN_GROUPS_FOR_QUORUM:
        return VoterPlan(data_members, arbiter, voters, None)
    while voters >= MIN_GROUPS_FOR_QUORUM:
        cap = voters // 2
        if sum(min(room, cap) for room in group_room) >= voters:
            return VoterPlan(data_members, arbiter and voters == data_members + 1, voters, cap)
        voters -= 2
    return VoterPlan(data_members, False, odd_voters(data_members), None)


def assign_voters(
    members: Mapping[str, int],
    groups: Mapping[str, str],
    plan: VoterPlan,
    arbiter_cluster: str | None,
    previous: Mapping[str, int],
) -> dict[str, int]:
    """Voting data members per cluster: sticky where possible, spread over groups, under the cap."""
    voters = {name: min(previous.get(name, 0), count) for name, count in members.items()}
    per_group: Counter[str] = Counter()
    for name, count in voters.items():
        per_group[groups[name]] += count
    if arbiter_cluster is not None:
        per_group[groups[arbiter_cluster]] += 1
    cap = plan.cap if plan.cap is not None else plan.voters

    def drop(candidates: list[str]) -> None:
        name = max(candidates, key=lambda n: (voters[n], n))
        voters[name] -= 1
        per_group[groups[name]] -= 1

    for group in sorted(per_group):
        while per_group[group] > cap and any(voters[n] for n in voters if groups[n] == group):
            drop([n for n in voters if groups[n] == group and voters[n]])
    while sum(voters.values()) > plan.data_voters:
        busiest = max((g for g in per_group if per_group[g]), key=lambda g: (per_group[g], g))
        drop([n for n in voters if groups[n] == busiest and voters[n]])
    while sum(voters.values()) < plan.data_voters:
        open_seats = [n for n in voters if voters[n] < members[n] and per_group[groups[n]] < cap]
        if not open_seats:
            break
        name = min(open_seats, key=lambda n: (per_group[groups[n]], voters[n] - members[n], n))
        voters[name] += 1
        per_group[groups[name]] += 1
    return voters


def at_risk(voters_by_group: Mapping[str, int]) -> list[tuple[str, int]]:
    """The groups whose loss leaves fewer than a majority of voters: (group, voters it holds)."""
    total = sum(voters_by_group.values())
    if total == 0:
        return []
    needed = majority(total)
    return sorted(
        ((group, held) for group, held in voters_by_group.items() if total - held < needed),
        key=lambda item: (-item[1], item[0]),
    )
