"""The placement decision: filter → score → divide → MongoDB rules, over one frozen request.

Pure: the same request always gives the same Placement (ties are broken by cluster name),
and nothing here touches the bus. The service builds the request and writes the result.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from fedstate.models.placement import ClusterAssignment, Placement

from . import explain, quorum, spread
from .allocate import Allocator
from .arbiter import arbiter_wanted, place_arbiter
from .explain import Outcome
from .framework import Context, run_filters, run_scores
from .modes import Slot, mode_for
from .plugins import FILTERS, SCORERS
from .request import PlacementRequest, Reservation
from .requirements import GroupCoverage, Requirement, VoterSpread
from .weights import weights_for


@dataclass
class _Decision:
    """The state one decision accumulates on its way through the pipeline."""

    request: PlacementRequest
    names: list[str]
    current: dict[str, int]
    outcome: Outcome = field(default_factory=Outcome)
    head: str = ""
    warnings: list[str] = field(default_factory=list)


def decide(request: PlacementRequest) -> Placement:
    ctx = _context(request)
    snapshots = sorted(request.clusters, key=lambda s: s.name)
    work = _Decision(request, [s.name for s in snapshots], dict(ctx.current))
    outcome = work.outcome
    candidates, outcome.rejected = run_filters(FILTERS, ctx, snapshots)
    outcome.capacity = {c.name: c.capacity for c in candidates}
    scheduler = request.spec.scheduler
    weights = weights_for(scheduler.scheduler_mode, scheduler.weights, candidates)
    outcome.dropped = {c.name: "not selected: weight 0" for c in candidates if weights[c.name] <= 0}
    constraints = request.spec.spread_constraints.spread_constraints
    selection = spread.select(constraints, [c for c in candidates if c.name not in outcome.dropped], work.current)
    outcome.dropped.update(selection.dropped)
    outcome.candidates = selection.candidates
    outcome.scores = run_scores(SCORERS, ctx, selection.candidates)
    work.head = explain.availability(len(work.names), outcome.rejected, outcome.dropped)
    if selection.failure or not selection.candidates:
        return _unschedulable(work, selection.failure or "no cluster can take members")
    return _divide(work, weights, selection.coverage)


def _context(request: PlacementRequest) -> Context:
    reserved: dict[str, list[Reservation]] = {}
    for reservation in request.reservations:
        reserved.setdefault(reservation.cluster, []).append(reservation)
    return Context(
        spec=request.spec,
        shape=request.shape,
        now=request.now,
        failure_threshold=request.failure_threshold,
        reservations={name: tuple(items) for name, items in reserved.items()},
        current=request.current.replicas_by_cluster() if request.current else {},
        namespace=request.namespace,
    )


def _divide(work: _Decision, weights: Mapping[str, float], coverage: list[tuple[str, int]]) -> Placement:
    spec = work.request.spec
    arbiter, skipped = arbiter_wanted(spec)
    work.warnings += [skipped] if skipped else []
    wanted_field = spread.quorum_field(spec.spread_constraints.spread_constraints)
    slots, plan, enforced_field = _plan(work, weights, coverage, wanted_field, arbiter)
    room = sum(slot.capacity for slot in slots)
    if room < spec.replicaset + plan.arbiter:
        return _unschedulable(
            work, f"insufficient capacity: they can hold {room} of {spec.replicaset + plan.arbiter} members"
        )
    requirements = _requirements(plan, enforced_field, coverage)
    mode = mode_for(spec.scheduler.scheduler_mode)
    allocation = Allocator(slots, mode, requirements, spec.replicaset, work.request.primary_cluster).run()
    if allocation.failure:
        return _unschedulable(work, f"cannot place: {allocation.failure}")
    work.outcome.members = allocation.members
    plan = _seat_arbiter(work, slots, plan)
    current = work.request.current
    previous = {a.cluster: a.voters for a in current.clusters} if current else {}
    groups = {slot.name: slot.groups[0] for slot in slots}
    work.outcome.voters = quorum.assign_voters(work.outcome.members, groups, plan, work.outcome.arbiter, previous)
    work.warnings += _quorum_warnings(work, wanted_field, plan, arbiter)
    return _placed(work, plan)


def _plan(
    work: _Decision, weights: Mapping[str, float], coverage: list[tuple[str, int]], wanted_field: str, arbiter: bool
) -> tuple[list[Slot], quorum.VoterPlan, str]:
    """Slots and voter plan; when the spread field has too few groups, fall back to no cluster holding a majority."""
    for quorum_field in dict.fromkeys((wanted_field, spread.CLUSTER)):
        fields = (quorum_field, *(f for f, _ in coverage))
        slots = [
            Slot(c.name, c.capacity, work.outcome.scores[c.name], weights[c.name], work.current.get(c.name, 0),
                 tuple(c.snapshot.group_value(f) for f in fields))
            for c in work.outcome.candidates
        ]  # fmt: skip
        room: Counter[str] = Counter()
        for slot in slots:
            room[slot.groups[0]] += slot.capacity
        plan = quorum.plan_voters(work.request.spec.replicaset, arbiter, list(room.values()))
        if plan.cap is not None:
            break
    return slots, plan, quorum_field


def _requirements(plan: quorum.VoterPlan, quorum_field: str, coverage: list[tuple[str, int]]) -> list[Requirement]:
    requirements: list[Requirement] = []
    if plan.cap is not None:
        requirements.append(VoterSpread(0, quorum_field, plan.data_voters, plan.cap))
    requirements += [GroupCoverage(i + 1, name, minimum) for i, (name, minimum) in enumerate(coverage)]
    return requirements


def _seat_arbiter(work: _Decision, slots: list[Slot], plan: quorum.VoterPlan) -> quorum.VoterPlan:
    """Place the arbiter; without a valid site, go on without it and with an odd number of data voters."""
    if not plan.arbiter:
        return plan
    current = work.request.current
    was = next((a.cluster for a in current.clusters if a.arbiter), None) if current else None
    site = place_arbiter(work.outcome.members, slots, plan, was)
    work.outcome.members = site.members
    work.outcome.arbiter = site.cluster
    if site.cluster is not None:
        return plan
    work.warnings.append("ArbiterNotPlaced: every candidate cluster holds the most data members or is full")
    voters = quorum.odd_voters(plan.data_members)
    return replace(plan, arbiter=False, voters=voters, cap=voters // 2 if plan.cap is not None else None)


def _quorum_warnings(work: _Decision, wanted_field: str, plan: quorum.VoterPlan, arbiter: bool) -> list[str]:
    warnings: list[str] = []
    wanted_voters = quorum.odd_voters(work.request.spec.replicaset + arbiter)
    if plan.voters < wanted_voters:
        warnings.append(
            f"VotersReduced: {plan.voters} voters instead of {wanted_voters}, so that no group holds a majority"
        )
    for level in dict.fromkeys((wanted_field, spread.CLUSTER)):
        by_group: Counter[str] = Counter()
        for candidate in work.outcome.candidates:
            held = work.outcome.voters.get(candidate.name, 0) + (work.outcome.arbiter == candidate.name)
            by_group[candidate.snapshot.group_value(level)] += held
        risky = quorum.at_risk(+by_group)
        if risky:
            group, held = risky[0]
            warnings.append(
                f"QuorumAtRisk: losing {level} {group} ({held} of {plan.voters} voters) stops writes; "
                f"3 or more eligible {level}s are needed to survive the loss of any one"
            )
            break
    return warnings


def _placed(work: _Decision, plan: quorum.VoterPlan) -> Placement:
    outcome = work.outcome
    clusters = sorted(set(outcome.members) | ({outcome.arbiter} if outcome.arbiter else set()))
    assignments = [
        ClusterAssignment(
            cluster=name,
            replicas=outcome.members.get(name, 0),
            voters=outcome.voters.get(name, 0),
            arbiter=outcome.arbiter == name,
        )
        for name in clusters
    ]
    spec = work.request.spec
    placed = explain.plural(spec.replicaset, "member")
    how = f"{spec.scheduler.scheduler_mode.value}, {plan.voters} voting"
    summary = f"{work.head}; placed {placed} ({how}): {explain.shares(outcome.members, outcome.arbiter)}"
    return Placement(
        spec_generation=work.request.generation,
        mode=spec.scheduler.scheduler_mode.value,
        clusters=assignments,
        schedulable=True,
        summary=summary,
        verdicts=explain.verdicts(work.names, outcome),
        warnings=work.warnings,
    )


def _unschedulable(work: _Decision, reason: str) -> Placement:
    """Why nothing can be placed; the members of the current placement stay where they are meanwhile."""
    current = work.request.current
    return Placement(
        spec_generation=work.request.generation,
        mode=work.request.spec.scheduler.scheduler_mode.value,
        clusters=list(current.clusters) if current else [],
        schedulable=False,
        summary=f"{work.head}; {reason}" if work.head else reason,
        verdicts=explain.verdicts(work.names, work.outcome),
        warnings=work.warnings,
    )
