"""Spread constraints: which groups of clusters may take members, and how many must.

For each ``spreadConstraints.spreadConstraints[]`` entry, in order, candidates are grouped
by the spread field (cluster, region, zone, provider) or label. Fewer groups than
``minGroups`` makes the instance unschedulable; more than ``maxGroups`` keeps the best
groups: those already holding members first (sticky), then the roomiest, then by name.
``minGroups`` also becomes a requirement on the division: members must cover that many.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from fedstate.models.multicloud import SpreadConstraint

from .explain import plural
from .framework import Candidate

CLUSTER = "cluster"


def field_of(constraint: SpreadConstraint) -> str:
    return constraint.spread_by_field or constraint.spread_by_label or CLUSTER


def quorum_field(constraints: Sequence[SpreadConstraint]) -> str:
    """The grouping no voting majority may sit in: the first spread field coarser than a cluster."""
    return next((f for f in map(field_of, constraints) if f != CLUSTER), CLUSTER)


@dataclass
class Selection:
    candidates: list[Candidate]
    dropped: dict[str, str] = field(default_factory=dict)  # cluster → why it was not selected
    coverage: list[tuple[str, int]] = field(default_factory=list)  # (field, minGroups)
    failure: str | None = None


def select(
    constraints: Sequence[SpreadConstraint], candidates: Sequence[Candidate], current: Mapping[str, int]
) -> Selection:
    selection = Selection(list(candidates))
    for constraint in constraints:
        _apply(constraint, selection, current)
        if selection.failure:
            break
    return selection


def _apply(constraint: SpreadConstraint, selection: Selection, current: Mapping[str, int]) -> None:
    key = field_of(constraint)
    groups: dict[str, list[Candidate]] = defaultdict(list)
    for candidate in selection.candidates:
        value = candidate.snapshot.group_value(key)
        if value:
            groups[value].append(candidate)
        else:
            selection.dropped[candidate.name] = f"not selected: no {key} to spread by"
    if len(groups) < constraint.min_groups:
        listed = ", ".join(f"{g} ({plural(len(m), 'cluster')})" for g, m in sorted(groups.items())) or "none"
        selection.failure = (
            f"spread by {key} needs at least {constraint.min_groups} groups; {len(groups)} eligible: {listed}"
        )
        return
    kept = _best_groups(groups, current, constraint.max_groups)
    for value, members in groups.items():
        if value not in kept:
            for candidate in members:
                selection.dropped[candidate.name] = (
                    f"not selected: spread by {key} keeps {constraint.max_groups} of {len(groups)} groups"
                )
    selection.candidates = [c for c in selection.candidates if c.name not in selection.dropped]
    if constraint.min_groups:
        selection.coverage.append((key, constraint.min_groups))


def _best_groups(groups: Mapping[str, list[Candidate]], current: Mapping[str, int], limit: int | None) -> set[str]:
    if limit is None or len(groups) <= limit:
        return set(groups)

    def rank(value: str) -> tuple[int, int, str]:
        members = groups[value]
        return (-sum(current.get(c.name, 0) for c in members), -sum(c.capacity for c in members), value)

    return set(sorted(groups, key=rank)[:limit])
