"""Spread constraints pick the groups of clusters members may use, and the quorum rule follows the spread field."""

from __future__ import annotations

from collections import Counter

from scheduler_builders import cluster, layout, place, spec

from fedstate.models.placement import Placement


def by_region(placement: Placement, regions: dict[str, str]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for assignment in placement.clusters:
        counts[regions[assignment.cluster]] += assignment.voters
    return dict(counts)


def spread(replicaset: int, *constraints: dict[str, object]) -> object:
    return spec(replicaset, spreadConstraints={"spreadConstraints": list(constraints)})


REGIONS = {"eu1": "eu", "eu2": "eu", "eu3": "eu", "us1": "us", "us2": "us", "ap1": "ap"}


def regional_clusters() -> list:
    return [cluster(name, region=region, nodes=5) for name, region in REGIONS.items()]


def test_no_region_holds_a_voting_majority_when_region_is_the_spread_field() -> None:
    """Five members over three regions: at most two voters in any region."""
    placement = place(spread(5, {"spreadByField": "region", "minGroups": 3}), regional_clusters())
    assert {"eu": 2, "us": 2, "ap": 1} == by_region(placement, REGIONS)
    assert [] == placement.warnings


def test_too_few_groups_for_min_groups_is_unschedulable_with_the_groups_named() -> None:
    """minGroups 4 over three regions cannot be met, and the summary lists the regions found."""
    placement = place(spread(5, {"spreadByField": "region", "minGroups": 4}), regional_clusters())
    assert not placement.schedulable
    expected = "spread by region needs at least 4 groups; 3 eligible: ap (1 cluster), eu (3 clusters), us (2 clusters)"
    assert placement.summary.endswith(expected)


def test_max_groups_keeps_the_roomiest_groups_and_says_which_were_left_out() -> None:
    """maxGroups 2 keeps eu and us (most room); ap's cluster is not selected."""
    placement = place(spread(3, {"spreadByField": "region", "maxGroups": 2}), regional_clusters())
    assert "ap1" not in layout(placement)
    verdict = next(v for v in placement.verdicts if v.cluster == "ap1")
    assert "not selected: spread by region keeps 2 of 3 groups" in verdict.reasons


def test_two_regions_still_keep_a_majority_out_of_any_one_cluster_and_warn() -> None:
    """Over two regions no region split is safe: clusters still hold no majority, and the risky region is named."""
    clusters = [c for c in regional_clusters() if c.region != "ap"]
    placement = place(spread(5, {"spreadByField": "region", "minGroups": 2}), clusters)
    assert max(a.voters for a in placement.clusters) <= 2
    assert placement.warnings[0].startswith("QuorumAtRisk: losing region eu (3 of 5 voters) stops writes")


def test_min_groups_by_label_spreads_members_over_that_many_label_values() -> None:
    """spreadByLabel rack with minGroups 3 puts members on three racks even in Aggregated mode."""
    racks = {"r1": "x", "r2": "x", "r3": "y", "r4": "z"}
    clusters = [cluster(name, labels={"rack": rack}, nodes=5) for name, rack in racks.items()]
    wanted = spec(
        4,
        scheduler={"schedulerMode": "Aggregated"},
        spreadConstraints={"spreadConstraints": [{"spreadByLabel": "rack", "minGroups": 3}]},
    )
    placement = place(wanted, clusters)
    assert 3 == len({racks[name] for name in layout(placement)})
