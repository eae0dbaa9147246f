"""config.arbiter: an arbiter only for an even number of data members, never beside the most data."""

from __future__ import annotations

from scheduler_builders import cluster, place, spec

from fedstate.models.placement import Placement


def arbiter_of(placement: Placement) -> str | None:
    return next((a.cluster for a in placement.clusters if a.arbiter), None)


def test_four_data_members_get_an_arbiter_on_a_site_without_data() -> None:
    """2+1+1 data members over three clusters, the arbiter on a fourth: five voters."""
    clusters = [cluster(name) for name in "abcd"]
    placement = place(spec(4, config={"arbiter": True}), clusters)
    assert "a" == arbiter_of(placement)
    assert {"b": 2, "c": 1, "d": 1} == placement.replicas_by_cluster()
    assert 5 == sum(a.voters + a.arbiter for a in placement.clusters)


def test_the_arbiter_never_sits_in_the_cluster_with_most_data_members() -> None:
    """Six data members over three clusters become 3+2+1, the arbiter beside the 1."""
    placement = place(spec(6, config={"arbiter": True}), [cluster(name) for name in "abc"])
    site = arbiter_of(placement)
    counts = placement.replicas_by_cluster()
    assert site is not None and counts[site] < max(counts.values())
    assert [1, 2, 3] == sorted(counts.values())


def test_an_odd_number_of_data_members_gets_no_arbiter_and_a_warning() -> None:
    """Five data members are already odd: no arbiter, and the placement says why."""
    placement = place(spec(5, config={"arbiter": True}), [cluster(name) for name in "abc"])
    assert arbiter_of(placement) is None
    assert placement.warnings[0].startswith("ArbiterSkipped: 5 data members are already odd")


def test_eight_data_members_already_have_seven_voters_so_no_arbiter() -> None:
    """Beyond six data members the seven-voter limit is reached without an arbiter."""
    placement = place(spec(8, config={"arbiter": True}), [cluster(name, nodes=5) for name in "abc"])
    assert arbiter_of(placement) is None
    assert "already give 7 voters" in placement.warnings[0]
