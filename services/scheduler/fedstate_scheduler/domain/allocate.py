"""Divide members over the candidate clusters: sticky, capacity-bound, rule-abiding.

The allocator starts from the members the current placement already has on clusters
that are still candidates (sticky), removes members on a scale-down, adds members on a
scale-up, and finally moves members one at a time only while a hard requirement is
unmet. Each step picks clusters in the mode's order of preference, so the result is
deterministic and the number of moved members is as small as the greedy can make it.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

from .modes import Mode, Slot
from .requirements import Requirement


@dataclass(frozen=True)
class Allocation:
    members: dict[str, int]  # cluster → members, only clusters with members
    moved: int  # members taken from one cluster and put in another to satisfy a requirement
    failure: str | None = None


class Allocator:
    def __init__(
        self,
        slots: Sequence[Slot],
        mode: Mode,
        requirements: Sequence[Requirement],
        target: int,
        keep: str | None = None,
    ) -> None:
        """``keep``: the cluster of the set's PRIMARY, which a scale-down empties last (its member leaving would
        mean a step-down and an election)."""
        self.slots = {slot.name: slot for slot in slots}
        self.keep = keep
        self.mode = mode
        self.requirements = list(requirements)
        self.target = target
        self.members = dict.fromkeys(self.slots, 0)
        self.total = 0

    def run(self) -> Allocation:
        self._seed()
        self._trim()
        failure = self._fill()
        moved = 0
        if failure is None:
            moved, failure = self._repair()
        placed = {name: count for name, count in sorted(self.members.items()) if count}
        return Allocation(placed, moved, failure)

    def _add(self, slot: Slot) -> None:
        self.members[slot.name] += 1
        self.total += 1
        for requirement in self.requirements:
            requirement.add(slot)

    def _remove(self, slot: Slot) -> None:
        self.members[slot.name] -= 1
        self.total -= 1
        for requirement in self.requirements:
            requirement.remove(slot)

    def _seed(self) -> None:
        """Members stay where they are, as far as their cluster can still hold them."""
        for slot in self.slots.values():
            for _ in range(min(slot.current, slot.capacity)):
                self._add(slot)

    def _trim(self) -> None:
        """Scale down: remove in the mode's order, sparing members a requirement needs and, while another cluster
        can give one, the PRIMARY's cluster its last member."""
        while self.total > self.target:
            occupied = sorted(
                (s for s in self.slots.values() if self.members[s.name]),
                key=lambda s: (self._empties_keep(s), self.mode.remove_key(s, self.members[s.name])),
            )
            harmless = [s for s in occupied if not any(r.hurts(s) for r in self.requirements)]
            self._remove((harmless or occupied)[0])

    def _empties_keep(self, slot: Slot) -> bool:
        return slot.name == self.keep and self.members[slot.name] == 1

    def _fits_ahead(self, slot: Slot, remaining_after: int) -> bool:
        """After adding here, can the members still to come meet every requirement?"""
        return all(r.deficit() - r.helps(slot) <= remaining_after for r in self.requirements)

    def _fill(self) -> str | None:
        """Scale up: add in the mode's order, skipping clusters that would make a requirement unreachable."""
        heap = [(self.mode.add_key(s, self.members[s.name]), s.name, self.members[s.name]) for s in self.slots.values()]
        heapq.heapify(heap)
        while self.total < self.target:
            remaining_after = self.target - self.total - 1
            skipped, chosen = [], None
            while heap:
                entry = heapq.heappop(heap)
                slot, count = self.slots[entry[1]], self.members[entry[1]]
                if entry[2] != count or count >= slot.capacity:
                    continue  # stale entry, or the cluster is full
                if self._fits_ahead(slot, remaining_after):
                    chosen = slot
                    break
                skipped.append(entry)
            if chosen is None and skipped:
                # A sticky start can leave more to fix than members to add: add anyway, repair moves later.
                chosen = self.slots[skipped.pop(0)[1]]
            for entry in skipped:
                heapq.heappush(heap, entry)
            if chosen is None:
                return self._shortfall()
            self._add(chosen)
            count = self.members[chosen.name]
            heapq.heappush(heap, (self.mode.add_key(chosen, count), chosen.name, count))
        return None

    def _shortfall(self) -> str:
        unmet = [r.explain() for r in self.requirements if r.deficit()]
        if unmet:
            return "; ".join(unmet)
        room = sum(slot.capacity for slot in self.slots.values())
        return f"insufficient capacity: the candidate clusters can hold {room} of {self.target} members"

    def _repair(self) -> tuple[int, str | None]:
        """Move one member at a time from where no requirement needs it to where one does."""
        moved = 0
        while any(r.deficit() for r in self.requirements):
            source = self._spare_member()
            destination = self._needed_place(exclude=source)
            if source is None or destination is None:
                return moved, "; ".join(r.explain() for r in self.requirements if r.deficit())
            self._remove(source)
            self._add(destination)
            moved += 1
        return moved, None

    def _spare_member(self) -> Slot | None:
        spare = [
            s for s in self.slots.values() if self.members[s.name] and not any(r.hurts(s) for r in self.requirements)
        ]
        return min(spare, key=lambda s: self.mode.remove_key(s, self.members[s.name]), default=None)

    def _needed_place(self, exclude: Slot | None) -> Slot | None:
        unmet = [r for r in self.requirements if r.deficit()]
        needed = [
            s
            for s in self.slots.values()
            if s is not exclude and self.members[s.name] < s.capacity and any(r.helps(s) for r in unmet)
        ]
        return min(needed, key=lambda s: self.mode.add_key(s, self.members[s.name]), default=None)
