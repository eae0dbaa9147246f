"""The four division modes, each as an order of preference for adding and for removing a member.

The allocator places (or removes) members one at a time; a mode only says which cluster
it prefers next. Keys are tuples compared ascending and end with the cluster name, so
every tie is broken the same way on every run.

- Uniform: the cluster with the fewest members next; the remainder goes to the most free capacity.
- Weighted / Dynamic: Sainte-Laguë over the weights, so members follow the weights proportionally
  (Dynamic's weight is how many members a cluster can hold, like Karmada's AvailableReplicas).
- Aggregated: fill the roomiest cluster already in use before opening another: the fewest clusters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from fedstate.models.multicloud import SchedulerMode


@dataclass(frozen=True, slots=True)
class Slot:
    """One candidate cluster as the allocator sees it."""

    name: str
    capacity: int  # members of this instance it can hold in total
    score: float  # the plugins' total score
    weight: float  # Weighted: static weight; Dynamic: capacity; others: 1
    current: int  # members it holds in the current placement
    groups: tuple[str, ...]  # its value of each grouping field the requirements use


Key = tuple[float | str, ...]


class Mode(Protocol):
    def add_key(self, slot: Slot, members: int) -> Key: ...

    def remove_key(self, slot: Slot, members: int) -> Key: ...


class Uniform:
    def add_key(self, slot: Slot, members: int) -> Key:
        return (members, -slot.score, slot.name)

    def remove_key(self, slot: Slot, members: int) -> Key:
        return (-members, slot.score, slot.name)


class Proportional:
    """Sainte-Laguë: the next seat goes to the highest weight / (2 * seats + 1)."""

    def add_key(self, slot: Slot, members: int) -> Key:
        return (-slot.weight / (2 * members + 1), -slot.score, slot.name)

    def remove_key(self, slot: Slot, members: int) -> Key:
        # The seat given last is the one with the lowest weight / (2 * seats - 1).
        return (slot.weight / (2 * members - 1), slot.score, slot.name)


class Aggregated:
    def add_key(self, slot: Slot, members: int) -> Key:
        return (0 if members else 1, -slot.capacity, -slot.score, slot.name)

    def remove_key(self, slot: Slot, members: int) -> Key:
        return (members, slot.capacity, slot.score, slot.name)


_MODES: dict[SchedulerMode, Mode] = {
    SchedulerMode.UNIFORM: Uniform(),
    SchedulerMode.WEIGHTED: Proportional(),
    SchedulerMode.DYNAMIC: Proportional(),
    SchedulerMode.AGGREGATED: Aggregated(),
}


def mode_for(name: SchedulerMode) -> Mode:
    return _MODES[name]
