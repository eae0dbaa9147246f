"""Properties of ``decide`` over generated worlds: capacity is respected, equal inputs give equal
outputs whatever the cluster order, and rescheduling keeps members where they are."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from scheduler_builders import cluster, layout, place, spec

from fedstate.models.multicloud import MultiCloudMongoDBSpec
from fedstate.models.placement import Placement
from fedstate_scheduler.domain import MemberShape, Reservation

MODES = ("Uniform", "Weighted", "Dynamic", "Aggregated")
# Per cluster: nodes, members per node, static weight, members already promised there.
worlds = st.lists(
    st.tuples(st.integers(1, 5), st.integers(1, 4), st.integers(1, 5), st.integers(0, 6)), min_size=1, max_size=7
)


def scheduler(mode: str, world: list[tuple[int, int, int, int]]) -> dict[str, object]:
    weights = [{"cluster": f"c{i}", "weight": weight} for i, (_, _, weight, _) in enumerate(world)]
    return {"schedulerMode": mode, "weights": weights}


def held(placement: Placement, wanted: MultiCloudMongoDBSpec) -> tuple[Reservation, ...]:
    return tuple(
        Reservation(a.cluster, a.replicas + a.arbiter, MemberShape.of(wanted), "self") for a in placement.clusters
    )


@settings(max_examples=300, deadline=None)
@given(replicaset=st.integers(1, 50), world=worlds, mode=st.sampled_from(MODES), arbiter=st.booleans())
def test_no_cluster_gets_more_members_than_its_nodes_hold_after_reservations(
    replicaset: int, world: list[tuple[int, int, int, int]], mode: str, arbiter: bool
) -> None:
    wanted = spec(replicaset, scheduler=scheduler(mode, world), config={"arbiter": arbiter})
    clusters = [cluster(f"c{i}", nodes=n, cpu=1000 * per_node) for i, (n, per_node, _, _) in enumerate(world)]
    promised = tuple(Reservation(f"c{i}", r, MemberShape.of(wanted)) for i, (_, _, _, r) in enumerate(world) if r)
    placement = place(wanted, clusters, reservations=promised)
    room = {f"c{i}": max(0, n * per_node - r) for i, (n, per_node, _, r) in enumerate(world)}
    for assignment in placement.clusters:
        assert assignment.replicas + assignment.arbiter <= room[assignment.cluster]
    if placement.schedulable:
        assert replicaset == sum(a.replicas for a in placement.clusters)


@settings(max_examples=200, deadline=None)
@given(replicaset=st.integers(1, 50), world=worlds, mode=st.sampled_from(MODES), order=st.randoms())
def test_the_same_request_gives_the_same_placement_in_any_cluster_order(
    replicaset: int, world: list[tuple[int, int, int, int]], mode: str, order: object
) -> None:
    wanted = spec(replicaset, scheduler=scheduler(mode, world))
    clusters = [cluster(f"c{i}", nodes=n, cpu=1000 * per_node) for i, (n, per_node, _, _) in enumerate(world)]
    shuffled = list(clusters)
    order.shuffle(shuffled)  # type: ignore[attr-defined]
    assert place(wanted, clusters) == place(wanted, shuffled)


@settings(max_examples=300, deadline=None)
@given(
    before=st.integers(1, 50),
    after=st.integers(1, 50),
    world=worlds.filter(lambda w: len(w) >= 3),
    mode=st.sampled_from(MODES),
)
def test_rescheduling_keeps_members_in_place(
    before: int, after: int, world: list[tuple[int, int, int, int]], mode: str
) -> None:
    """Same world: nothing moves. A scale (except Aggregated, whose packing the quorum rule may undo)
    only adds members on a scale-up and only removes members on a scale-down."""
    clusters = [cluster(f"c{i}", nodes=n, cpu=1000 * per_node) for i, (n, per_node, _, _) in enumerate(world)]
    first_spec, next_spec = (spec(n, scheduler=scheduler(mode, world)) for n in (before, after))
    first = place(first_spec, clusters)
    if not first.schedulable:
        return
    again = place(first_spec, clusters, current=first, reservations=held(first, first_spec))
    assert first.clusters == again.clusters
    scaled = place(next_spec, clusters, current=first, reservations=held(first, first_spec), generation=2)
    if not scaled.schedulable or mode == "Aggregated":
        return
    old, new = layout(first), layout(scaled)
    if after >= before:
        assert all(new.get(name, 0) >= count for name, count in old.items())
    else:
        assert all(new.get(name, 0) <= count for name, count in old.items())
