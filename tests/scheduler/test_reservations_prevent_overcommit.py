"""In-flight reservations: capacity promised to placements not yet visible is not handed out twice, and is
released by the promised members running in the cluster's snapshot, never by other pods' growth."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st
from scheduler_builders import NOW, cluster, layout, place, spec

from fedstate.bus.store import Entry
from fedstate.models.cluster import ClusterSnapshot, members_key
from fedstate.models.placement import ClusterAssignment, Placement
from fedstate.models.reservation import ClusterReservations, Promise
from fedstate_scheduler.domain import MemberShape, Reservation
from fedstate_scheduler.domain.reservations import promised, reservations
from fedstate_scheduler.service import _Room

SHAPE = MemberShape(1000, 1 << 30)
X = ("default.ns.multicloudmongodb.x", "ns", "x")
Y = ("default.ns.multicloudmongodb.y", "ns", "y")


def placement(**members: int) -> Placement:
    assignments = [ClusterAssignment(cluster=name, replicas=n, voters=n) for name, n in members.items()]
    return Placement(spec_generation=1, mode="Uniform", clusters=assignments)


def running(snapshot: ClusterSnapshot, **members: int) -> ClusterSnapshot:
    """``snapshot`` showing ``members`` pods running for each instance name (in namespace ns)."""
    counts = {members_key("ns", name): n for name, n in members.items()}
    return snapshot.model_copy(update={"members": counts})


def grown(snapshot: ClusterSnapshot, pods: int) -> ClusterSnapshot:
    """``snapshot`` with ``pods`` more pods of somebody else's, each the size of one member."""
    node = snapshot.nodes[0]
    busier = node.model_copy(
        update={
            "pods": node.pods + pods,
            "requested_cpu_millis": node.requested_cpu_millis + pods * SHAPE.cpu_millis,
            "requested_memory_bytes": node.requested_memory_bytes + pods * SHAPE.memory_bytes,
        }
    )
    return snapshot.model_copy(update={"nodes": [busier, *snapshot.nodes[1:]]})


def reserved(records: dict[str, ClusterReservations], snapshots: dict[str, ClusterSnapshot], at=NOW) -> dict:  # type: ignore[no-untyped-def]
    return {(r.cluster, r.owner): r.members for r in reservations(records.values(), snapshots, at)}


def test_reserved_members_are_deducted_node_by_node() -> None:
    """One-node clusters with room for four members each, a: 4 and b: 3 promised, take 3 as b 1 + c 2."""
    clusters = [cluster("a", nodes=1), cluster("b", nodes=1), cluster("c", nodes=1)]
    promises = (Reservation("a", 4, SHAPE), Reservation("b", 3, SHAPE))
    placement = place(spec(3), clusters, reservations=promises)
    assert {"b": 1, "c": 2} == layout(placement)
    full = placement.verdicts[0]
    assert full.reasons[0].startswith("insufficient cpu")
    assert full.reasons[0].endswith("(4 members reserved by in-flight placements)")


def test_a_promise_lasts_until_the_snapshot_shows_the_members_running() -> None:
    snapshots = {"a": cluster("a")}
    records = promised(X, None, placement(a=2), SHAPE, {}, snapshots, NOW)
    assert {("a", X[0]): 2} == reserved(records, snapshots)
    assert {("a", X[0]): 1} == reserved(records, {"a": running(snapshots["a"], x=1)})
    assert {} == reserved(records, {"a": running(snapshots["a"], x=2)})


def test_growth_of_the_clusters_requests_releases_nothing() -> None:
    """Another tenant's pods starting in the cluster are not our members."""
    snapshots = {"a": cluster("a")}
    records = promised(X, None, placement(a=2), SHAPE, {}, snapshots, NOW)
    assert {("a", X[0]): 2} == reserved(records, {"a": grown(snapshots["a"], 5)})
    assert {("a", X[0]): 2} == reserved(records, {"a": running(snapshots["a"], y=3)})


def test_a_promise_expires_after_its_ttl() -> None:
    """Members that never start stop blocking capacity when the TTL runs out."""
    snapshots = {"a": cluster("a")}
    records = promised(X, None, placement(a=2), SHAPE, {}, snapshots, NOW, timedelta(seconds=60))
    assert {} == reserved(records, snapshots, NOW + timedelta(seconds=60))


def test_rescheduling_promises_only_the_members_it_adds() -> None:
    """A scale from 2 to 3 in one cluster holds room for one more member, not three."""
    snapshots = {"a": running(cluster("a"), x=2)}
    records = promised(X, placement(a=2), placement(a=3), SHAPE, {}, snapshots, NOW)
    assert {("a", X[0]): 1} == reserved(records, snapshots)


def test_a_later_decision_keeps_what_an_older_promise_still_misses() -> None:
    snapshots = {"a": cluster("a")}
    first = promised(X, None, placement(a=2), SHAPE, {}, snapshots, NOW)
    again = promised(X, placement(a=2), placement(a=2), SHAPE, first, snapshots, NOW + timedelta(seconds=1))
    assert {} == again  # nothing changed, nothing to write
    moved = promised(X, placement(a=2), placement(b=2), SHAPE, first, snapshots, NOW)
    assert {"a": ClusterReservations(cluster="a"), "b": moved["b"]} == moved
    assert {("b", X[0]): 2} == reserved(moved, snapshots)


def test_a_new_promise_drops_the_released_and_expired_ones_of_others() -> None:
    snapshots = {"a": cluster("a")}
    held = promised(Y, None, placement(a=1), SHAPE, {}, snapshots, NOW)
    both = promised(X, None, placement(a=1), SHAPE, held, snapshots, NOW)
    assert [X[0], Y[0]] == [p.owner for p in both["a"].promises]
    later = {"a": running(snapshots["a"], y=1)}
    records = promised(X, placement(a=1), placement(a=2), SHAPE, both, later, NOW)
    assert [X[0]] == [p.owner for p in records["a"].promises]


@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["x", "y"]), st.integers(0, 4), st.integers(0, 4), st.integers(0, 130)),
        min_size=1,
        max_size=12,
    ),
    others=st.integers(0, 6),
)
def test_reserved_room_is_held_for_added_members_until_they_run_or_the_ttl(
    steps: list[tuple[str, int, int, int]], others: int
) -> None:
    """Any sequence of placements (x and y, each its members on cluster a) and members starting: an instance
    holds room for at least the members it just added while none runs, never for more than it places and
    does not run, none once its newest growth is a TTL old, and other pods' growth changes nothing."""
    owners = {"x": X, "y": Y}
    placed = {"x": 0, "y": 0}
    grown_at = {"x": NOW, "y": NOW}
    records: dict[str, ClusterReservations] = {}
    ttl = timedelta(seconds=120)
    now = NOW
    for who, members, started, seconds in steps:
        now += timedelta(seconds=seconds)
        runs = min(started, members)
        snapshot = running(cluster("a"), **{who: runs})
        added = max(0, members - placed[who])
        if added:
            grown_at[who] = now
        records |= promised(
            owners[who], placement(a=placed[who]), placement(a=members), SHAPE, records, {"a": snapshot}, now, ttl
        )
        placed[who] = members
        shown = reserved(records, {"a": snapshot}, now).get(("a", owners[who][0]), 0)
        assert shown == reserved(records, {"a": grown(snapshot, others)}, now).get(("a", owners[who][0]), 0)
        assert shown <= max(0, members - runs)
        if runs == 0:
            assert shown >= added
        if now - grown_at[who] >= ttl:
            assert shown == 0


@given(
    st.lists(
        st.tuples(st.integers(1, 7), st.integers(0, 7), st.integers(-60, 60), st.integers(0, 7)),
        max_size=6,
    ),
    st.integers(-90, 90),
)
def test_the_room_a_record_holds_is_worked_out_once_and_holds_at_any_later_time(
    rows: list[tuple[int, int, int, int]], later: int
) -> None:
    """The scheduler works out each record's room once per revision of it and of its snapshot (``_Room``), then
    only drops the promises expired since: the same as ``reservations`` worked out afresh at that moment."""
    promises = [
        Promise(
            owner=f"default.ns.multicloudmongodb.i{index}",
            namespace="ns",
            name=f"i{index}",
            members=members,
            promised=min(members, promised),
            cpu_millis=SHAPE.cpu_millis,
            memory_bytes=SHAPE.memory_bytes,
            expires_at=NOW + timedelta(seconds=expires_in),
        )
        for index, (members, promised, expires_in, _) in enumerate(rows)
    ]
    record = ClusterReservations(cluster="a", promises=promises)
    snapshot = running(cluster("a", nodes=1), **{f"i{index}": up for index, (*_, up) in enumerate(rows)})
    room = _Room.of(Entry("a", 1, record), snapshot)
    at = NOW + timedelta(seconds=later)
    memoized = list(room.held) if at < room.first_expiry else room.holding(at)
    assert list(reservations([record], {"a": snapshot}, at)) == memoized
