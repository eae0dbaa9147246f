"""Property: any replicaset over three or more eligible clusters with room places every member
and leaves no cluster a voting majority, with an odd number of voters, at most seven."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from scheduler_builders import cluster, place, spec

# (nodes, members per node) per cluster: capacities from 1 to 20 members.
clusters_strategy = st.lists(st.tuples(st.integers(1, 5), st.integers(1, 4)), min_size=3, max_size=7)


@settings(max_examples=300, deadline=None)
@given(replicaset=st.integers(1, 50), shapes=clusters_strategy)
def test_members_sum_up_and_no_cluster_holds_a_voting_majority(replicaset: int, shapes: list[tuple[int, int]]) -> None:
    clusters = [cluster(f"c{i}", nodes=n, cpu=1000 * per_node) for i, (n, per_node) in enumerate(shapes)]
    room = sum(n * per_node for n, per_node in shapes)
    placement = place(spec(replicaset), clusters)
    assert placement.schedulable == (room >= replicaset)
    if not placement.schedulable:
        return
    votes = [a.voters for a in placement.clusters]
    total_votes = sum(votes)
    assert replicaset == sum(a.replicas for a in placement.clusters)
    assert all(a.voters <= a.replicas for a in placement.clusters)
    assert total_votes <= 7 and total_votes % 2 == 1
    if total_votes >= 3:
        assert max(votes) <= total_votes // 2


@settings(max_examples=200, deadline=None)
@given(replicaset=st.integers(1, 50), shapes=clusters_strategy, arbiter=st.booleans())
def test_an_arbiter_never_sits_with_the_most_data_members(
    replicaset: int, shapes: list[tuple[int, int]], arbiter: bool
) -> None:
    clusters = [cluster(f"c{i}", nodes=n, cpu=1000 * per_node) for i, (n, per_node) in enumerate(shapes)]
    placement = place(spec(replicaset, config={"arbiter": arbiter}), clusters)
    sites = [a for a in placement.clusters if a.arbiter]
    if not sites:
        return
    assert arbiter and replicaset % 2 == 0 and replicaset <= 6
    most = max(a.replicas for a in placement.clusters)
    assert sites[0].replicas < most
    votes = [a.voters + a.arbiter for a in placement.clusters]
    assert sum(votes) == replicaset + 1
    assert max(votes) <= sum(votes) // 2
