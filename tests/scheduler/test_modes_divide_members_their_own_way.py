"""Weighted, Dynamic and Aggregated modes divide members their own way, within the MongoDB rules."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from scheduler_builders import cluster, layout, place, spec

from fedstate.models.multicloud import MultiCloudMongoDBSpec


def weighted(replicaset: int, weights: list[dict[str, object]], mode: str = "Weighted") -> MultiCloudMongoDBSpec:
    return spec(replicaset, scheduler={"schedulerMode": mode, "weights": weights})


def test_weighted_follows_static_weights_by_cluster_name() -> None:
    """Weights 3:1:1 give ten members as 6+2+2."""
    wanted = weighted(10, [{"cluster": "a", "weight": 3}, {"cluster": "b", "weight": 1}, {"cluster": "c", "weight": 1}])
    clusters = [cluster("a", nodes=5), cluster("b", nodes=5), cluster("c", nodes=5)]
    assert {"a": 6, "b": 2, "c": 2} == layout(place(wanted, clusters))


def test_weighted_matches_clusters_by_label_and_skips_weightless_ones() -> None:
    """A label rule weighs every cluster carrying it; a cluster no rule matches gets nothing and says so."""
    wanted = weighted(9, [{"labelSelector": {"tier": "gold"}, "weight": 2}, {"cluster": "c", "weight": 1}])
    clusters = [
        cluster("a", nodes=5, labels={"tier": "gold"}),
        cluster("b", nodes=5, labels={"tier": "gold"}),
        cluster("c", nodes=5),
        cluster("d", nodes=5),
    ]
    placement = place(wanted, clusters)
    assert {"a": 4, "b": 3, "c": 2} == layout(placement)
    verdict = next(v for v in placement.verdicts if v.cluster == "d")
    assert ["can hold 20 members", "not selected: weight 0"] == verdict.reasons


def test_weighting_is_accepted_as_an_alias_and_unknown_modes_are_refused() -> None:
    """FedState's spelling 'Weighting' means Weighted; a typo lists the valid modes."""
    assert "Weighted" == weighted(3, [], mode="Weighting").scheduler.scheduler_mode.value
    supported = 'supported values: "Uniform", "Weighted", "Dynamic", "Aggregated", "Weighting"'
    with pytest.raises(ValidationError, match=supported):
        weighted(3, [], mode="Spread")


def test_dynamic_weighs_clusters_by_how_many_members_they_can_hold() -> None:
    """Capacities 40, 20, 12 and 8 members take twenty members as 10+5+3+2."""
    clusters = [cluster("a", nodes=10), cluster("b", nodes=5), cluster("c", nodes=3), cluster("d", nodes=2)]
    assert {"a": 10, "b": 5, "c": 3, "d": 2} == layout(
        place(spec(20, scheduler={"schedulerMode": "Dynamic"}), clusters)
    )


def test_aggregated_uses_the_fewest_clusters_the_quorum_rule_allows() -> None:
    """Twenty members fill the roomiest cluster; two more only seat the voters that keep a majority out of it."""
    clusters = [cluster("a", nodes=10), cluster("b", nodes=5), cluster("c", nodes=3), cluster("d", nodes=2)]
    placement = place(spec(20, scheduler={"schedulerMode": "Aggregated"}), clusters)
    assert {"a": 16, "b": 3, "c": 1} == layout(placement)
    assert {"a": 3, "b": 3, "c": 1} == {a.cluster: a.voters for a in placement.clusters}


def test_aggregated_with_one_voter_needs_just_one_cluster() -> None:
    """Two members have one voter, so nothing forces a second cluster."""
    clusters = [cluster("a", nodes=10), cluster("b", nodes=5), cluster("c", nodes=3)]
    placement = place(spec(2, scheduler={"schedulerMode": "Aggregated"}), clusters)
    assert {"a": 2} == layout(placement)
    assert placement.warnings[0].startswith("QuorumAtRisk: losing cluster a (1 of 1 voters)")
