"""The words of a placement: the FitError-style summary and one verdict per cluster.

"0/5 clusters are available: 3 insufficient memory, 2 untolerated taint." is built from
the rejections' reason codes; the verdicts carry each cluster's detail, capacity, score
and share, and together fill ``Placement.summary`` / ``verdicts`` and ``fedstate describe``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import TypeAdapter

from fedstate.models.placement import ClusterVerdict

from .framework import Candidate, Rejection


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def availability(total: int, rejected: Mapping[str, Rejection], dropped: Mapping[str, str]) -> str:
    """'3/5 clusters are available: 1 cluster not ready, 1 insufficient memory'."""
    available = total - len(rejected) - len(dropped)
    counts = Counter(r.reason for r in rejected.values())
    counts.update(reason.split(":")[0] for reason in dropped.values())
    reasons = ", ".join(f"{n} {reason}" for reason, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])))
    head = f"{available}/{total} clusters are available"
    return f"{head}: {reasons}" if reasons else head


def shares(members: Mapping[str, int], arbiter: str | None) -> str:
    parts = [f"{name} {count}" for name, count in sorted(members.items())]
    if arbiter is not None:
        parts.append(f"arbiter {arbiter}")
    return ", ".join(parts)


@dataclass
class Outcome:
    """What the pipeline decided, gathered for the verdicts."""

    rejected: dict[str, Rejection] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)
    candidates: list[Candidate] = field(default_factory=list)  # those selected to take members
    capacity: dict[str, int] = field(default_factory=dict)  # of every cluster the filters passed
    scores: dict[str, float] = field(default_factory=dict)
    members: dict[str, int] = field(default_factory=dict)
    voters: dict[str, int] = field(default_factory=dict)
    arbiter: str | None = None


# One validation for every line: pydantic-core builds 1,000 verdicts faster than 1,000 Python constructors.
_VERDICTS: TypeAdapter[list[ClusterVerdict]] = TypeAdapter(list[ClusterVerdict])


def verdicts(names: Sequence[str], outcome: Outcome) -> list[ClusterVerdict]:
    capacity = outcome.capacity
    lines: list[dict[str, object]] = []
    for name in names:
        if name in outcome.rejected:
            lines.append(_verdict(name, False, [str(outcome.rejected[name])], None))
            continue
        reasons = [f"can hold {plural(capacity.get(name, 0), 'member')}"]
        if name in outcome.dropped:
            reasons.append(outcome.dropped[name])
        members = outcome.members.get(name, 0)
        if members or outcome.arbiter == name:
            arbiter = " + arbiter" if outcome.arbiter == name else ""
            reasons.append(f"placed {plural(members, 'member')} ({outcome.voters.get(name, 0)} voting){arbiter}")
        lines.append(_verdict(name, name not in outcome.dropped, reasons, outcome.scores.get(name)))
    return _VERDICTS.validate_python(lines)


def _verdict(cluster: str, eligible: bool, reasons: list[str], score: float | None) -> dict[str, object]:
    return {"cluster": cluster, "eligible": eligible, "reasons": reasons, "score": score}
