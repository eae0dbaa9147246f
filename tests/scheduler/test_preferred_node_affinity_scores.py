"""scheduler.affinity's preferred node-affinity terms rate clusters: members go where the preferred nodes
are, other things equal; a preference never filters a cluster out."""

from __future__ import annotations

from scheduler_builders import cluster, layout, place, spec

PREFER_SSD = {
    "nodeAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 80, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}},
            {"weight": 20, "preference": {"matchExpressions": [{"key": "net", "operator": "Exists"}]}},
        ]
    }
}


def test_the_uneven_member_goes_to_the_cluster_with_the_preferred_nodes() -> None:
    """Three members over two equal clusters: one gets two. Without a preference the name decides (a);
    with one, the cluster whose nodes are ssd (b) gets the second member, and it scores its best node."""
    clusters = [cluster("a", node_labels={"net": "10g"}), cluster("b", node_labels={"disk": "ssd"})]
    assert {"a": 2, "b": 1} == layout(place(spec(3), clusters))
    placement = place(spec(3, scheduler={"affinity": PREFER_SSD}), clusters)
    assert {"a": 1, "b": 2} == layout(placement)
    scores = {v.cluster: v.score for v in placement.verdicts}
    assert scores["b"] is not None and scores["a"] is not None and scores["b"] > scores["a"]


def test_a_preference_nobody_matches_changes_nothing_and_filters_nothing() -> None:
    clusters = [cluster("a"), cluster("b"), cluster("c")]
    assert layout(place(spec(5), clusters)) == layout(place(spec(5, scheduler={"affinity": PREFER_SSD}), clusters))
