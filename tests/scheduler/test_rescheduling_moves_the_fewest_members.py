"""Sticky rescheduling: an unchanged world moves nothing; a scale or a lost cluster moves only what it must."""

from __future__ import annotations

from datetime import timedelta

from scheduler_builders import NOW, cluster, layout, place, spec

from fedstate.models.multicloud import MultiCloudMongoDBSpec
from fedstate.models.placement import Placement
from fedstate_scheduler.domain import MemberShape, Reservation


def held(placement: Placement, wanted: MultiCloudMongoDBSpec) -> tuple[Reservation, ...]:
    """The current members, as the world sees them while they start: promised capacity."""
    return tuple(Reservation(a.cluster, a.replicas, MemberShape.of(wanted), "self") for a in placement.clusters)


def test_an_unchanged_world_moves_nothing() -> None:
    """Deciding again with the current placement gives the same members and voters in the same clusters."""
    clusters = [cluster(name, nodes=n) for name, n in zip("abcd", (3, 5, 2, 4), strict=True)]
    first = place(spec(7), clusters)
    again = place(spec(7), clusters, current=first, reservations=held(first, spec(7)))
    assert first.clusters == again.clusters


def test_a_new_roomy_cluster_does_not_attract_existing_members() -> None:
    """Members stay where they are although a roomier cluster appeared."""
    clusters = [cluster("a"), cluster("b"), cluster("c")]
    first = place(spec(5), clusters)
    later = place(spec(5), [*clusters, cluster("big", nodes=20)], current=first, reservations=held(first, spec(5)))
    assert layout(first) == layout(later)


def test_a_scale_up_only_adds_members() -> None:
    """From 5 to 7 members over three clusters: every cluster keeps its members, two are added."""
    clusters = [cluster(name) for name in "abc"]
    first = place(spec(5), clusters)
    scaled = place(spec(7), clusters, current=first, reservations=held(first, spec(5)), generation=2)
    assert all(layout(scaled)[name] >= count for name, count in layout(first).items())
    assert 7 == sum(layout(scaled).values())


def test_a_scale_down_only_removes_members() -> None:
    """From 7 to 3 members: no cluster gains one, and the three left are 1+1+1."""
    clusters = [cluster(name) for name in "abc"]
    first = place(spec(7), clusters)
    scaled = place(spec(3), clusters, current=first, reservations=held(first, spec(7)), generation=2)
    assert {"a": 1, "b": 1, "c": 1} == layout(scaled)


def test_members_of_a_lost_cluster_move_and_the_others_stay() -> None:
    """When a cluster stops heartbeating, only its members move."""
    clusters = [cluster(name) for name in "abcd"]
    first = place(spec(5), clusters)
    lost = max(layout(first), key=lambda name: (layout(first)[name], name))
    stale = [cluster(c.name, observed_at=NOW - timedelta(minutes=5)) if c.name == lost else c for c in clusters]
    later = place(spec(5), stale, current=first, reservations=held(first, spec(5)))
    assert lost not in layout(later)
    moved = sum(max(0, count - layout(later).get(name, 0)) for name, count in layout(first).items())
    assert layout(first)[lost] == moved


def test_a_full_cluster_keeps_the_members_it_already_runs() -> None:
    """A cluster with no room left still counts the members it holds, so they are not evicted."""
    clusters = [cluster(name, nodes=1, cpu=1000) for name in "abc"]
    first = place(spec(3), clusters)
    full = [c.model_copy(update={"nodes": [n.model_copy(update={"requested_cpu_millis": 1000}) for n in c.nodes]})
            for c in clusters]  # fmt: skip
    assert layout(first) == layout(place(spec(3), full, current=first))


def test_a_scale_that_does_not_fit_keeps_the_members_where_they_are() -> None:
    """An impossible scale is unschedulable but keeps the current layout; scaling back moves nothing."""
    clusters = [cluster(name) for name in "abc"]
    first = place(spec(5), clusters)
    too_big = place(spec(50), clusters, current=first, reservations=held(first, spec(5)), generation=2)
    assert not too_big.schedulable
    assert first.clusters == too_big.clusters
    back = place(spec(5), clusters, current=too_big, reservations=held(too_big, spec(5)), generation=3)
    assert first.clusters == back.clusters
