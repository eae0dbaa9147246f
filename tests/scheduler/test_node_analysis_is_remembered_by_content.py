"""Node-level work is remembered by the nodes' content: a heartbeat that changed no node reuses it,
a changed node is analysed afresh, and whatever the memo holds, decisions equal fresh ones."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from scheduler_builders import GI, NOW, cluster, heartbeat, place, spec

from fedstate.models.cluster import ClusterSnapshot, NodeResources, Taint
from fedstate.models.multicloud import MultiCloudMongoDBSpec as Spec
from fedstate.models.placement import ClusterAssignment, Placement
from fedstate_scheduler.domain import MemberShape, Reservation, interned, memo
from fedstate_scheduler.domain.memo import ContentMemo
from fedstate_scheduler.domain.nodes import table_of


def with_pod_started(snapshot: ClusterSnapshot) -> ClusterSnapshot:
    first, *others = snapshot.nodes
    started = first.model_copy(update={"requested_cpu_millis": first.requested_cpu_millis + 500, "pods": 1})
    return snapshot.model_copy(update={"nodes": [started, *others]})


def test_a_value_is_found_by_an_equal_fingerprint_in_its_bucket() -> None:
    """An equal (not identical) fingerprint finds the value; another fingerprint or bucket does not."""
    remembered: ContentMemo[list[int], str] = ContentMemo()
    remembered.file("a", [1, 2], "p")
    assert "p" == remembered.find("a", [1, 2])
    assert None is remembered.find("a", [1, 3])
    assert None is remembered.find("b", [1, 2])


def test_the_content_memo_is_bounded() -> None:
    """Each bucket keeps its latest fingerprints; beyond the bucket limit the least recently filled goes."""
    remembered: ContentMemo[int, int] = ContentMemo(per_bucket=2, buckets=2)
    for value in (1, 2, 3):
        remembered.file("a", value, value)
    assert (2, 3, None) == (len(remembered), remembered.latest("a"), remembered.find("a", 1))
    remembered.file("b", 1, 1)
    remembered.file("c", 1, 1)  # a third bucket: "a", filled first, goes
    assert (2, None) == (len(remembered), remembered.find("a", 3))


def test_a_heartbeat_that_changed_no_node_finds_the_same_table() -> None:
    """Only observed_at moved: the new snapshot object gets the table, and so the verdicts, of the last one."""
    before = interned(cluster("a", node_labels={"deploy": "mongo"}))
    assert table_of(before) is table_of(interned(heartbeat(before)))


def test_a_changed_node_gets_a_table_of_its_own() -> None:
    """A pod started on one node: its cluster's nodes are analysed afresh."""
    before = interned(cluster("a"))
    assert table_of(before) is not table_of(interned(with_pod_started(before)))


def test_interned_snapshots_share_the_nodes_of_an_equal_earlier_one() -> None:
    """The service keeps one copy of unchanged nodes, not one per heartbeat; the snapshot stays equal."""
    before = interned(cluster("a"))
    after = heartbeat(before)
    kept = interned(after)
    assert after == kept
    assert all(old is new for old, new in zip(before.nodes, kept.nodes, strict=True))


def test_a_changed_node_leaves_the_others_shared() -> None:
    """A pod started on the first node: only that node is a new object."""
    before = interned(cluster("a"))
    after = interned(with_pod_started(heartbeat(before)))
    assert [False, True, True] == [old is new for old, new in zip(before.nodes, after.nodes, strict=True)]
    assert 500 == after.nodes[0].requested_cpu_millis


def test_a_decision_after_a_pod_started_counts_the_new_usage() -> None:
    """Remembered work never hides a change: a node filled up since the last heartbeat holds fewer members."""
    wanted = spec(3, cpu="1")
    before = [interned(cluster(name, nodes=1, cpu=2000)) for name in "abc"]
    assert ["can hold 2 members"] == place(wanted, before).verdicts[0].reasons[:1]
    after = [with_pod_started(before[0]), *map(heartbeat, before[1:])]
    assert ["can hold 1 member"] == place(wanted, list(map(interned, after))).verdicts[0].reasons[:1]


LABELS = st.sampled_from([{}, {"deploy": "mongo"}, {"deploy": "mongo", "disk": "ssd"}, {"disk": "ssd"}])
TAINTS = st.sampled_from(
    [[], [Taint(key="dedicated", value="db")], [Taint(key="spot", effect="PreferNoSchedule")], [Taint(key="gpu")]]
)
nodes: st.SearchStrategy[dict[str, object]] = st.builds(
    dict,
    labels=LABELS,
    taints=TAINTS,
    ready=st.booleans(),
    allocatable_cpu_millis=st.sampled_from([1000, 2000, 4000]),
    requested_cpu_millis=st.sampled_from([0, 500, 1500]),
    pods=st.integers(0, 2),
)
# Per cluster: its nodes, then whether other heartbeats differ in one node.
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


def build(world: list[tuple[list[dict[str, object]], bool]], *, variant: int = 0) -> list[ClusterSnapshot]:
    """The world's snapshots; a variant is another heartbeat, in which the first node of a changed cluster
    was cordoned (1) or ran one more pod of 500m (2)."""
    snapshots = []
    for index, (fields, changed) in enumerate(world):
        members = [
            NodeResources.model_validate({"name": f"c{index}-n{i}", "allocatable_memory_bytes": 8 * GI, **node})
            for i, node in enumerate(fields)
        ]
        first = members[0]
        if changed and variant == 1:
            members[0] = first.model_copy(update={"ready": not first.ready})
        if changed and variant == 2:
            members[0] = first.model_copy(update={"requested_cpu_millis": first.requested_cpu_millis + 500})
        snapshot = cluster(f"c{index}").model_copy(update={"nodes": members})
        snapshots.append(heartbeat(snapshot, seconds=-variant))
    return snapshots


def holding(members: int) -> Placement | None:
    assignment = ClusterAssignment(cluster="c0", replicas=members, voters=members)
    return Placement(spec_generation=1, mode="Uniform", clusters=[assignment]) if members else None


@settings(max_examples=300, deadline=None)
@given(
    world=worlds,
    wanted=specs,
    reserved=st.integers(0, 3),
    other=st.tuples(specs, st.integers(0, 3), st.integers(1, 2)),
    prepared=st.booleans(),
)
def test_a_remembered_analysis_gives_the_placement_a_fresh_one_gives(
    world: list[tuple[list[dict[str, object]], bool]],
    wanted: Spec,
    reserved: int,
    other: tuple[Spec, int, int],
    prepared: bool,
) -> None:
    """Decide with nothing remembered. Then let the memo see heartbeats of this world, some with nodes
    different, each with decisions that differ from this one in one input (the spec, the reservations,
    members already held), all interned as the service does; decide again over the same world as new
    objects, interned or not: the Placement is the same."""
    promised = (Reservation("c0", reserved, MemberShape.of(wanted)),) if reserved else ()
    memo.clear_all()
    fresh = place(wanted, build(world), reservations=promised)
    memo.clear_all()
    other_spec, other_reserved, held = other
    other_promised = (Reservation("c0", other_reserved, MemberShape.of(wanted)),) if other_reserved else ()
    # The last heartbeat differs again: this world's content is then the older of the two remembered.
    for heartbeats in (build(world, variant=1), build(world), build(world, variant=2)):
        clusters = [interned(snapshot) for snapshot in heartbeats]
        place(other_spec, clusters, reservations=promised)
        place(wanted, clusters, reservations=other_promised)
        place(wanted, clusters, reservations=promised, current=holding(held))
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


PREFER_SSD = {
    "nodeAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 50, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}}
        ]
    }
}
node_changes = st.fixed_dictionaries(
    {},
    optional={
        "ready": st.booleans(),
        "labels": LABELS,
        "taints": TAINTS,
        "requested_cpu_millis": st.sampled_from([0, 500, 1500, 4000]),
        "pods": st.integers(0, 110),
    },
)


@settings(max_examples=150, deadline=None)
@given(
    world=worlds,
    wanted=specs,
    held=st.integers(0, 2),
    changes=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 3), node_changes), max_size=6),
    prefer=st.booleans(),
)
def test_a_verdict_derived_from_the_last_heartbeats_equals_a_fresh_one(
    world: list[tuple[list[dict[str, object]], bool]],
    wanted: Spec,
    held: int,
    changes: list[tuple[int, int, dict[str, object]]],
    prefer: bool,
) -> None:
    """Decide on one heartbeat, then on the next where some nodes changed anything (readiness, labels,
    taints, usage: a node may join the candidates, leave them or change its room): the second decision,
    derived from the first one's verdicts where only those nodes are looked at again, is the decision made
    with nothing remembered. A preferred node affinity makes the kept nodes themselves count, not only
    how many members they hold."""
    if prefer:
        wanted = wanted.model_copy(deep=True)
        wanted.scheduler.affinity = PREFER_SSD
    current = holding(held)
    memo.clear_all()
    first = [interned(snapshot) for snapshot in build(world)]
    place(wanted, first, current=current)
    later = []
    for index, snapshot in enumerate(heartbeat(s) for s in first):
        nodes = list(snapshot.nodes)
        for cluster_index, node_index, change in changes:
            if cluster_index == index and node_index < len(nodes):
                nodes[node_index] = nodes[node_index].model_copy(update=change)
        later.append(interned(snapshot.model_copy(update={"nodes": nodes})))
    derived = place(wanted, later, current=current)
    memo.clear_all()
    assert place(wanted, [heartbeat(s, seconds=0) for s in later], current=current) == derived


def test_a_kept_node_that_stops_passing_is_dropped_from_a_derived_verdict() -> None:
    """The only ssd node is cordoned in the next heartbeat: the derived verdict no longer counts it for the
    preferred-affinity score, exactly as a fresh one."""
    wanted = spec(1).model_copy(deep=True)
    wanted.scheduler.affinity = PREFER_SSD
    memo.clear_all()
    before = interned(cluster("a", nodes=2))
    ssd = before.nodes[1].model_copy(update={"labels": {"disk": "ssd"}})
    first = interned(heartbeat(before.model_copy(update={"nodes": [before.nodes[0], ssd]})))
    assert 200.0 == place(wanted, [first]).verdicts[0].score  # free capacity 100 + preference 100
    cordoned = first.model_copy(update={"nodes": [first.nodes[0], ssd.model_copy(update={"ready": False})]})
    assert 100.0 == place(wanted, [interned(heartbeat(cordoned))]).verdicts[0].score  # no preferred node left
