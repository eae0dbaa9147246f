"""In-flight reservations: capacity promised to placements not yet visible is not handed out twice."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st
from scheduler_builders import GI, NOW, cluster, layout, place, spec

from fedstate.models.cluster import ClusterSnapshot
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


def started(snapshot: ClusterSnapshot, members: int, shape: MemberShape = SHAPE) -> ClusterSnapshot:
    """The snapshot with ``members`` more member pods running, spread over its nodes."""
    nodes = list(snapshot.nodes)
    for index in range(members):
        at = index % len(nodes)
        grown = {
            "requested_cpu_millis": nodes[at].requested_cpu_millis + shape.cpu_millis,
            "requested_memory_bytes": nodes[at].requested_memory_bytes + shape.memory_bytes,
            "pods": nodes[at].pods + 1,
        }
        nodes[at] = nodes[at].model_copy(update=grown)
    return snapshot.model_copy(update={"nodes": nodes})


def test_two_promises_on_one_cluster_are_released_one_started_member_at_a_time() -> None:
    """x and then y are promised a member in a; one member starts: x's promise (the older) is released,
    y's still deducts its member, in every later heartbeat too; the second member releases y's."""
    book = ReservationBook()
    before = cluster("a")
    book.record("x", None, placement(a=1), SHAPE, {"a": before}, NOW)
    book.record("y", None, placement(a=1), SHAPE, {"a": before}, NOW + timedelta(seconds=1))
    for heartbeat in (2, 3, 4):  # the same member seen in heartbeat after heartbeat is still one member
        book.observe(started(before, 1), NOW + timedelta(seconds=heartbeat))
        assert (Reservation("a", 1, SHAPE, "y"),) == book.active(NOW + timedelta(seconds=heartbeat))
    book.observe(started(before, 2), NOW + timedelta(seconds=5))
    assert () == book.active(NOW + timedelta(seconds=5))


# A world's history: an owner is promised members (1 to 3), or one promised member starts.
events = st.lists(st.one_of(st.integers(1, 3), st.just("start")), max_size=12)


@given(history=events, shape=st.builds(MemberShape, st.sampled_from([0, 250, 1000]), st.sampled_from([0, GI])))
def test_promises_follow_the_members_seen_starting_one_at_a_time(history: list[int | str], shape: MemberShape) -> None:
    """Owners are promised members in one cluster while members start, one at a time, each observed in a
    heartbeat, and observed again: the members still deducted are always the promised ones not yet
    started, and the oldest promises go first."""
    book, snapshot = ReservationBook(), cluster("a", nodes=2)
    owners: list[str] = []
    promised = begun = 0
    for second, event in enumerate(history):
        now = NOW + timedelta(seconds=second)
        if event == "start" and begun < promised:
            begun += 1
            snapshot = started(snapshot, 1, shape)
        elif isinstance(event, int):
            owners.append(f"o{second:02d}")
            promised += event
            book.record(owners[-1], None, placement(a=event), shape, {"a": snapshot}, now)
        for _ in range(2):
            book.observe(snapshot, now)
            active = book.active(now)
            assert promised - begun == sum(r.members for r in active)
            still = sorted(r.owner for r in active)
            assert still == owners[len(owners) - len(still) :], "the oldest promises are released first"


def test_a_promise_made_while_an_older_one_is_half_seen_counts_only_its_own_members() -> None:
    """x is promised 2 members in a and one has started when y is promised 1: x's second member releases x,
    and only y's own member releases y."""
    book = ReservationBook()
    before = cluster("a")
    book.record("x", None, placement(a=2), SHAPE, {"a": before}, NOW)
    book.observe(one := started(before, 1), NOW + timedelta(seconds=1))
    book.record("y", None, placement(a=1), SHAPE, {"a": one}, NOW + timedelta(seconds=2))
    book.observe(started(before, 2), NOW + timedelta(seconds=3))
    assert (Reservation("a", 1, SHAPE, "y"),) == book.active(NOW + timedelta(seconds=3))
    book.observe(started(before, 3), NOW + timedelta(seconds=4))
    assert () == book.active(NOW + timedelta(seconds=4))
