"""Hard rules on how members spread over groups, as deficits the allocator must bring to zero.

A requirement counts members per group (cluster, region, zone, provider or a label value)
and says how many more members must land in "helpful" groups before it holds. Adding a
member to a helpful group lowers the deficit by one; removing one from a group it "hurts"
raises it by one. The allocator uses that to look ahead and to repair sticky layouts.
"""

from __future__ import annotations

from collections import Counter
from typing import Protocol

from .modes import Slot


class Requirement(Protocol):
    def deficit(self) -> int: ...

    def helps(self, slot: Slot) -> bool: ...

    def hurts(self, slot: Slot) -> bool: ...

    def add(self, slot: Slot) -> None: ...

    def remove(self, slot: Slot) -> None: ...

    def explain(self) -> str: ...


class VoterSpread:
    """``voters`` voting members must fit with at most ``cap`` in any one group (no group holds a majority)."""

    def __init__(self, index: int, field: str, voters: int, cap: int) -> None:
        self.index, self.field, self.voters, self.cap = index, field, voters, cap
        self.counts: Counter[str] = Counter()
        self.covered = 0  # sum over groups of min(members, cap): the voters that can be seated

    def deficit(self) -> int:
        return max(0, self.voters - self.covered)

    def helps(self, slot: Slot) -> bool:
        return self.counts[slot.groups[self.index]] < self.cap

    def hurts(self, slot: Slot) -> bool:
        return 0 < self.counts[slot.groups[self.index]] <= self.cap

    def add(self, slot: Slot) -> None:
        group = slot.groups[self.index]
        self.covered += self.counts[group] < self.cap
        self.counts[group] += 1

    def remove(self, slot: Slot) -> None:
        group = slot.groups[self.index]
        self.covered -= self.counts[group] <= self.cap
        self.counts[group] -= 1

    def explain(self) -> str:
        return (
            f"{self.voters} voters with at most {self.cap} per {self.field} "
            f"(no {self.field} may hold a voting majority): only {self.covered} can be seated"
        )


class GroupCoverage:
    """Members must cover at least ``min_groups`` distinct groups (spreadConstraints minGroups)."""

    def __init__(self, index: int, field: str, min_groups: int) -> None:
        self.index, self.field, self.min_groups = index, field, min_groups
        self.counts: Counter[str] = Counter()

    def used(self) -> int:
        return sum(1 for count in self.counts.values() if count > 0)

    def deficit(self) -> int:
        return max(0, self.min_groups - self.used())

    def helps(self, slot: Slot) -> bool:
        return self.counts[slot.groups[self.index]] == 0

    def hurts(self, slot: Slot) -> bool:
        return self.counts[slot.groups[self.index]] == 1

    def add(self, slot: Slot) -> None:
        self.counts[slot.groups[self.index]] += 1

    def remove(self, slot: Slot) -> None:
        self.counts[slot.groups[self.index]] -= 1

    def explain(self) -> str:
        return f"spread by {self.field} needs members in at least {self.min_groups} groups: only {self.used()} reached"
