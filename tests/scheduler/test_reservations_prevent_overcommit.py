"""In-flight reservations: capacity promised to placements not yet visible is not handed out twice."""

from __future__ import annotations

from datetime import timedelta

from scheduler_builders import NOW, cluster, layout, place, spec

from fedstate.models.placement import ClusterAssignment, Placement
from fedstate_scheduler.domain import MemberShape, Reservation
from fedstate_scheduler.domain.reservations import ReservationBook

SHAPE = MemberShape(1000, 1 << 30)


def placement(**members: int) -> Placement:
    assignments = [ClusterAssignment(cluster=name, replicas=n, voters=n) for name, n in members.items()]
    return Placement(spec_generation=1, mode="Uniform", clusters=assignments)


def test_reserved_members_are_deducted_node_by_node() -> None:
    """One-node clusters with room for four members each, a: 4 and b: 3 promised, take 3 as b 1 + c 2."""
    clusters = [cluster("a", nodes=1), cluster("b", nodes=1), cluster("c", nodes=1)]
    promised = (Reservation("a", 4, SHAPE), Reservation("b", 3, SHAPE))
    placement = place(spec(3), clusters, reservations=promised)
    assert {"b": 1, "c": 2} == layout(placement)
    full = placement.verdicts[0]
    assert full.reasons[0].startswith("insufficient cpu")
    assert full.reasons[0].endswith("(4 members reserved by in-flight placements)")


def test_a_promise_lasts_until_the_snapshot_shows_the_members() -> None:
    """The book deducts promised members until the cluster's requests grow by them."""
    book = ReservationBook()
    before = cluster("a")
    book.record("x", None, placement(a=2), SHAPE, {"a": before}, NOW)
    assert (Reservation("a", 2, SHAPE, "x"),) == book.active(NOW)
    one_started = before.model_copy(
        update={"nodes": [before.nodes[0].model_copy(update={"requested_cpu_millis": 1000, "pods": 1,
                                                               "requested_memory_bytes": 1 << 30}),
                          *before.nodes[1:]]}
    )  # fmt: skip
    book.observe(one_started, NOW)
    assert (Reservation("a", 1, SHAPE, "x"),) == book.active(NOW)


def test_a_promise_expires_after_its_ttl() -> None:
    """Members that never start stop blocking capacity when the TTL runs out."""
    book = ReservationBook(ttl=timedelta(seconds=60))
    book.record("x", None, placement(a=2), SHAPE, {"a": cluster("a")}, NOW)
    assert () == book.active(NOW + timedelta(seconds=61))


def test_rescheduling_promises_only_the_members_it_adds() -> None:
    """A scale from 2 to 3 in one cluster promises one more member, not three."""
    book = ReservationBook()
    book.record("x", placement(a=2), placement(a=3), SHAPE, {"a": cluster("a")}, NOW)
    assert (Reservation("a", 1, SHAPE, "x"),) == book.active(NOW)
    book.forget("x")
    assert () == book.active(NOW)
