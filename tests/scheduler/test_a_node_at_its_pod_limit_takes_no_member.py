"""A member is a pod: a node running as many pods as it allows takes no member, however much CPU and memory
it has free, whether its room is counted afresh, after reservations or derived from the last heartbeat."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from scheduler_builders import GI, cluster, heartbeat, place, spec

from fedstate.models.cluster import ClusterSnapshot, NodeResources
from fedstate_scheduler.domain import MemberShape, Reservation, interned, memo
from fedstate_scheduler.domain.capacity import NodeRoom, members_fitting, members_fitting_nodes, rooms
from fedstate_scheduler.domain.nodes import table_of

SHAPE = MemberShape(1000, GI)
ROOMY = {"allocatable_cpu_millis": 64_000, "allocatable_memory_bytes": 256 * GI}


def node(pods: int, allocatable_pods: int = 4, name: str = "n") -> NodeResources:
    """A node with room for 64 members by CPU and memory, running ``pods`` of its ``allocatable_pods``."""
    return NodeResources(name=name, pods=pods, allocatable_pods=allocatable_pods, **ROOMY)


def at_pods(snapshot: ClusterSnapshot, *pods: int) -> ClusterSnapshot:
    """The snapshot whose nodes run ``pods`` pods each, of 4 allowed, with CPU and memory to spare."""
    nodes = [
        n.model_copy(update={**ROOMY, "pods": p, "allocatable_pods": 4})
        for n, p in zip(snapshot.nodes, pods, strict=True)
    ]
    return snapshot.model_copy(update={"nodes": nodes})


def members_each_way(nodes: list[NodeResources], shape: MemberShape = SHAPE) -> set[int]:
    """How many members fit, by each of the three countings the scheduler uses."""
    per_node = sum(NodeRoom.of(n).fits(shape) for n in nodes)
    return {per_node, members_fitting_nodes(nodes, shape), members_fitting(rooms(nodes), shape)}


def test_a_node_at_its_pod_limit_has_room_for_no_member() -> None:
    assert [{0}, {0}, {1}, {4}] == [members_each_way([node(pods)]) for pods in (4, 5, 3, 0)]


@given(
    cpu=st.integers(0, 8000),
    free_cpu=st.integers(-1000, 8000),
    pods=st.integers(0, 12),
    allocatable_pods=st.integers(0, 10),
    shape=st.builds(MemberShape, st.integers(0, 3000), st.integers(0, 4 * GI)),
)
def test_no_counting_gives_a_node_more_members_than_it_has_free_pods(
    cpu: int, free_cpu: int, pods: int, allocatable_pods: int, shape: MemberShape
) -> None:
    """For any node and member shape: the three countings agree and none exceeds the free pod slots."""
    busy = NodeResources(
        name="n",
        allocatable_cpu_millis=cpu,
        requested_cpu_millis=cpu - free_cpu,
        allocatable_memory_bytes=16 * GI,
        pods=pods,
        allocatable_pods=allocatable_pods,
    )
    [members] = members_each_way([busy], shape)
    assert 0 <= members <= max(0, allocatable_pods - pods)


def test_a_cluster_whose_nodes_are_all_at_their_pod_limit_is_rejected_for_too_many_pods() -> None:
    full = at_pods(cluster("full", nodes=2), 4, 4)
    placement = place(spec(3), [full, cluster("b"), cluster("c")])
    verdict = next(v for v in placement.verdicts if v.cluster == "full")
    assert (False, ["too many pods: every node is at its pod limit"]) == (verdict.eligible, verdict.reasons)
    assert "full" not in placement.replicas_by_cluster()


def test_a_reserved_member_takes_the_last_pod_slot() -> None:
    """One slot free and one member promised there: nothing is left for this instance."""
    last_slot = at_pods(cluster("last", nodes=1), 3)
    placement = place(spec(3), [last_slot, cluster("b"), cluster("c")], reservations=(Reservation("last", 1, SHAPE),))
    verdict = next(v for v in placement.verdicts if v.cluster == "last")
    assert not verdict.eligible
    assert verdict.reasons[0].startswith("too many pods")


def test_a_node_that_reaches_its_pod_limit_drops_out_of_a_derived_verdict() -> None:
    """Two nodes with a slot each hold 2 members; the next heartbeat fills one node's last slot (a pod
    started, asking no CPU): the verdict derived from the last one counts 1 member, as a fresh one does."""
    memo.clear_all()
    first = interned(at_pods(cluster("a", nodes=2), 3, 3))
    assert ["can hold 2 members"] == place(spec(1), [first]).verdicts[0].reasons[:1]
    later = interned(heartbeat(at_pods(first, 4, 3)))
    assert table_of(later).base is table_of(first), "the second verdict is derived from the first"
    assert ["can hold 1 member"] == place(spec(1), [later]).verdicts[0].reasons[:1]
    memo.clear_all()
    assert ["can hold 1 member"] == place(spec(1), [heartbeat(later, seconds=0)]).verdicts[0].reasons[:1]
