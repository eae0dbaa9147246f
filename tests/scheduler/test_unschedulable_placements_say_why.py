"""An impossible placement is schedulable=False, and its summary counts clusters per reason."""

from __future__ import annotations

from datetime import timedelta

from scheduler_builders import NOW, cluster, place, spec

from fedstate.models.cluster import Taint


def test_the_summary_counts_clusters_per_reason_like_a_fit_error() -> None:
    """'0/5 clusters are available: 3 insufficient memory, 2 untolerated taint'."""
    tainted = [Taint(key="dedicated", value="batch")]
    clusters = [cluster(n, memory=512 << 20) for n in "abc"] + [cluster(n, taints=tainted) for n in "de"]
    placement = place(spec(3), clusters)
    assert not placement.schedulable
    assert placement.summary.startswith("0/5 clusters are available: 3 insufficient memory, 2 untolerated taint")
    assert [] == placement.clusters


def test_every_cluster_gets_a_verdict_with_its_detail() -> None:
    """Kept clusters show capacity, score and share; dropped ones the reason in full."""
    clusters = [cluster("a"), cluster("b"), cluster("c"), cluster("old", observed_at=NOW - timedelta(minutes=5))]
    placement = place(spec(3), clusters)
    by_name = {v.cluster: v for v in placement.verdicts}
    assert ["a", "b", "c", "old"] == list(by_name)
    assert ["can hold 12 members", "placed 1 member (1 voting)"] == by_name["a"].reasons
    assert not by_name["old"].eligible
    assert by_name["old"].reasons[0].startswith("cluster not ready: no heartbeat for over 20s")


def test_too_little_capacity_is_unschedulable_with_the_numbers() -> None:
    """Clusters that can hold 3 members in all cannot take 5."""
    clusters = [cluster(n, nodes=1, cpu=1000) for n in "abc"]
    placement = place(spec(5), clusters)
    assert not placement.schedulable
    assert placement.summary.endswith("insufficient capacity: they can hold 3 of 5 members")


def test_an_impossible_first_placement_lists_no_clusters() -> None:
    """With nothing placed before, an unschedulable placement names no cluster."""
    assert [] == place(spec(3), [cluster("a", memory=1 << 29)]).clusters
