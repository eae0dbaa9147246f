"""Node-level work is remembered by the nodes' content: a heartbeat that changed no node reuses it,
a changed node is analysed afresh, and whatever the memo holds, decisions equal fresh ones."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from scheduler_builders import GI, NOW, cluster, place, spec

from fedstate.models.cluster import ClusterSnapshot, NodeResources, Taint
from fedstate.models.multicloud import MultiCloudMongoDBSpec as Spec
from fedstate.models.placement import ClusterAssignment, Placement
from fedstate_scheduler.domain import MemberShape, Reservation, interned, memo
from fedstate_scheduler.domain.memo import ContentMemo
from fedstate_scheduler.domain.nodes import table_of


def heartbeat(snapshot: ClusterSnapshot, seconds: int = 5) -> ClusterSnapshot:
    """The next heartbeat of the same cluster: a new object decoded from the wire, later."""
    wire = snapshot.to_wire() | {"observedAt": (snapshot.observed_at + timedelta(seconds=seconds)).isoformat()}
    return ClusterSnapshot.model_validate(wire)


def with_pod_started(snapshot: ClusterSnapshot) -> ClusterSnapshot:
    first, *others = snapshot.nodes
    started = first.model_copy(update={"requested_cpu_millis": first.requested_cpu_millis + 500, "pods": 1})
    return snapshot.model_copy(update={"nodes": [started, *others]})


def test_equal_fingerprints_in_a_bucket_compute_once() -> None:
    """A second ask with an equal (not identical) fingerprint reuses the answer; another fingerprint does not."""
    remembered: ContentMemo[list[int], str] = ContentMemo()
    calls: list[str] = []

    def compute(value: str) -> str:
        calls.append(value)
        return value

    assert "p" == remembered.get("a", [1, 2], compute, "p")
    assert "p" == remembered.get("a", [1, 2], compute, "again")
    assert "q" == remembered.get("a", [1, 3], compute, "q")
    assert "r" == remembered.get("b", [1, 2], compute, "r")
    assert ["p", "q", "r"] == calls


def test_the_content_memo_is_bounded() -> None:
    """Each bucket keeps its latest fingerprints; beyond the bucket limit the least recently filled goes."""
    remembered: ContentMemo[int, int] = ContentMemo(per_bucket=2, buckets=2)
    for value in (1, 2, 3):
        remembered.get("a", value, lambda v=value: v)
    assert 2 == len(remembered)
    assert -1 == remembered.get("a", 1, lambda: -1)  # the oldest content of "a" was let go
    remembered.get("b", 1, lambda: 1)
    remembered.get("c", 1, lambda: 1)  # a third bucket: "a", filled first, goes
    assert 2 == len(remembered)
    assert -1 == remembered.get("a", 3, lambda: -1)


def test_a_heartbeat_that_changed_no_node_finds_the_same_table() -> None:
    """Only observed_at moved: the new snapshot object gets the table, and so the verdicts, of the last one."""
    before = cluster("a", node_labels={"deploy": "mongo"})
    assert table_of(before) is table_of(heartbeat(before))


def test_a_changed_node_gets_a_table_of_its_own() -> None:
    """A pod started on one node: its cluster's nodes are analysed afresh."""
    before = cluster("a")
    assert table_of(before) is not table_of(with_pod_started(before))


def test_interned_snapshots_share_the_nodes_of_an_equal_earlier_one() -> None:
    """The service keeps one copy of unchanged nodes, not one per heartbeat; the snapshot stays equal."""
    before = interned(cluster("a"))
    after = heartbeat(before)
    kept = interned(after)
    assert after == kept
    assert all(old is new for old, new in zip(before.nodes, kept.nodes, strict=True))


def test_a_decision_after_a_pod_started_counts_the_new_usage() -> None:
    """Remembered work never hides a change: a node filled up since the last heartbeat holds fewer members."""
    wanted = spec(3, cpu="1")
    before = [cluster(name, nodes=1, cpu=2000) for name in "abc"]
    assert ["can hold 2 members"] == place(wanted, before).verdicts[0].reasons[:1]
    after = [with_pod_started(before[0]), *map(heartbeat, before[1:])]
    assert ["can hold 1 member"] == place(wanted, after).verdicts[0].reasons[:1]


LABELS = st.sampled_from([{}, {"deploy": "mongo"}, {"deploy": "mongo", "disk": "ssd"}, {"disk": "ssd"}])
TAINTS = st.sampled_from(
    [[], [Taint(key="dedicated", value="db")], [Taint(key="spot", effect="PreferNoSchedule")], [Taint(key="gpu")]]
)
nodes = st.builds(
    dict,
    labels=LABELS,
    taints=TAINTS,
    ready=st.booleans(),
    allocatable_cpu_millis=st.sampled_from([1000, 2000, 4000]),
    requested_cpu_millis=st.sampled_from([0, 500, 1500]),
    pods=st.integers(0, 2),
)
# Per cluster: its nodes, then whether an earlier heartbeat had one node with a pod fewer.
worlds = st.lists(st.tuples(st.lists(nodes, min_size=1, max_size=4), st.booleans()), min_size=1, max_size=5)


def chosen(
    replicaset: int, cpu: str, mode: str, node_select: dict[str, str], tolerations: list[dict[str, str]]
) -> Spec:
    scheduler = {"schedulerMode": mode, "tolerations": tolerations}
    return spec(replicaset, cpu=cpu, scheduler=scheduler, spreadConstraints={"nodeSelect": node_select})


specs = st.builds(
    chosen,
    replicaset=st.integers(1, 7),
    cpu=st.sampled_from(["500m", "1", "2"]),
    mode=st.sampled_from(["Uniform", "Dynamic", "Aggregated"]),
    node_select=st.sampled_from([{}, {"deploy": "mongo"}, {"disk": "ssd"}]),
    tolerations=st.sampled_from([[], [{"key": "dedicated", "operator": "Exists"}]]),
)


def build(world: list[tuple[list[dict[str, object]], bool]], *, earlier: bool = False) -> list[ClusterSnapshot]:
    snapshots = []
    for index, (fields, changed) in enumerate(world):
        members = [
            NodeResources.model_validate({"name": f"c{index}-n{i}", "allocatable_memory_bytes": 8 * GI, **node})
            for i, node in enumerate(fields)
        ]
        if earlier and changed:
            members[0] = members[0].model_copy(update={"pods": members[0].pods + 1})
        snapshot = cluster(f"c{index}").model_copy(update={"nodes": members})
        snapshots.append(snapshot if not earlier else heartbeat(snapshot, seconds=-5))
    return snapshots


def holding(members: int) -> Placement | None:
    assignment = ClusterAssignment(cluster="c0", replicas=members, voters=members)
    return Placement(spec_generation=1, mode="Uniform", clusters=[assignment]) if members else None


@settings(max_examples=300, deadline=None)
@given(
    world=worlds,
    wanted=specs,
    reserved=st.integers(0, 3),
    earlier=st.tuples(specs, st.integers(0, 3), st.integers(0, 2)),
    prepared=st.booleans(),
)
def test_a_remembered_analysis_gives_the_placement_a_fresh_one_gives(
    world: list[tuple[list[dict[str, object]], bool]],
    wanted: Spec,
    reserved: int,
    earlier: tuple[Spec, int, int],
    prepared: bool,
) -> None:
    """Decide with nothing remembered. Then let the memo see an earlier heartbeat (some nodes different)
    and other decisions (another spec, other reservations, members already held), and decide again over
    the same world as new objects, interned as the service does or not: the Placement is the same."""
    promised = (Reservation("c0", reserved, MemberShape.of(wanted)),) if reserved else ()
    memo.clear_all()
    fresh = place(wanted, build(world), reservations=promised)
    memo.clear_all()
    other, other_reserved, held = earlier
    other_promised = (Reservation("c0", other_reserved, MemberShape.of(other)),) if other_reserved else ()
    for clusters in (build(world, earlier=True), build(world)):
        place(other, clusters, reservations=other_promised, current=holding(held))
        place(wanted, clusters, reservations=other_promised, current=holding(held))
    again = build(world)
    remembered = place(wanted, [interned(s) for s in again] if prepared else again, reservations=promised)
    assert fresh == remembered


def test_clearing_the_memo_changes_no_decision() -> None:
    """The memo is invisible in results: cleared or not, the same request gives the same Placement."""
    clusters = [cluster("a", node_labels={"deploy": "mongo"}), cluster("b"), cluster("c", observed_at=NOW)]
    wanted = spec(3, spreadConstraints={"nodeSelect": {"deploy": "mongo"}})
    remembered = place(wanted, clusters)
    memo.clear_all()
    assert remembered == place(wanted, clusters)
