"""MongoDB's voting rules in the placement: no cluster with a voting majority, at most 7 odd voters."""

from __future__ import annotations

from scheduler_builders import cluster, layout, place, spec, voters


def test_five_members_over_three_clusters_are_two_two_one() -> None:
    """The reference layout: 2+2+1 survives the loss of any one site."""
    placement = place(spec(5), [cluster("a", nodes=9), cluster("b"), cluster("c")])
    assert [1, 2, 2] == sorted(layout(placement).values())
    assert [] == placement.warnings


def test_roomy_clusters_do_not_pull_a_majority_into_one_cluster() -> None:
    """Even when one cluster could hold everything, three members go 1+1+1."""
    placement = place(spec(3), [cluster("big", nodes=50), cluster("b", nodes=1), cluster("c", nodes=1)])
    assert {"big": 1, "b": 1, "c": 1} == layout(placement)


def test_at_most_seven_members_vote() -> None:
    """Twelve members: seven voters, spread 3+2+2, the other five vote 0."""
    placement = place(spec(12), [cluster("a", nodes=5), cluster("b", nodes=5), cluster("c", nodes=5)])
    assert 12 == sum(layout(placement).values())
    assert [2, 2, 3] == sorted(voters(placement).values())


def test_an_even_number_of_members_gets_an_odd_number_of_voters() -> None:
    """Four members vote as three, so losing any one of three clusters keeps a majority."""
    placement = place(spec(4), [cluster("a"), cluster("b"), cluster("c")])
    assert {"a": 1, "b": 1, "c": 1} == voters(placement)


def test_two_clusters_still_place_and_warn_which_loss_stops_writes() -> None:
    """With two eligible clusters the placement happens and names the cluster whose loss stops writes."""
    placement = place(spec(3), [cluster("a"), cluster("b")])
    assert placement.schedulable
    assert {"a": 2, "b": 1} == layout(placement)
    assert placement.warnings[0].startswith("QuorumAtRisk: losing cluster a (2 of 3 voters) stops writes")


def test_lopsided_capacity_reduces_voters_rather_than_concentrating_them() -> None:
    """When the small clusters can only seat few voters, fewer voters are spread, with a warning."""
    clusters = [cluster("a", nodes=10), cluster("b", nodes=1, cpu=1000), cluster("c", nodes=1, cpu=1000)]
    placement = place(spec(9), clusters)
    assert {"a": 7, "b": 1, "c": 1} == layout(placement)
    assert {"a": 1, "b": 1, "c": 1} == voters(placement)
    assert placement.warnings[0].startswith("VotersReduced: 3 voters instead of 7")
