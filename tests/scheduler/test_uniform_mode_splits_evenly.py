"""Uniform mode: an even split, the remainder to the roomiest clusters, never beyond what nodes hold."""

from __future__ import annotations

from scheduler_builders import cluster, layout, place, spec


def test_an_even_split_puts_the_remainder_on_the_roomiest_cluster() -> None:
    """Seven members over three clusters: 3+2+2, the 3 where most members fit."""
    clusters = [cluster("a"), cluster("b", nodes=5), cluster("c")]
    assert {"a": 2, "b": 3, "c": 2} == layout(place(spec(7), clusters))


def test_few_members_go_to_the_roomiest_of_many_clusters() -> None:
    """Three members over five clusters land on the three that can hold the most."""
    clusters = [cluster("a"), cluster("b", nodes=4), cluster("c", nodes=5), cluster("d"), cluster("e", nodes=6)]
    assert {"b": 1, "c": 1, "e": 1} == layout(place(spec(3), clusters))


def test_a_cluster_never_gets_more_members_than_its_nodes_hold() -> None:
    """A cluster with room for one member gets one, the others take the rest."""
    clusters = [cluster("a", nodes=1, cpu=1000), cluster("b", nodes=5), cluster("c", nodes=5)]
    placement = place(spec(9), clusters)
    assert 1 == layout(placement)["a"]
    assert 9 == sum(layout(placement).values())


def test_equal_clusters_are_chosen_by_name() -> None:
    """Ties are broken by cluster name, so the result never depends on input order."""
    clusters = [cluster("c"), cluster("a"), cluster("b"), cluster("d")]
    assert {"a": 1, "b": 1, "c": 1} == layout(place(spec(3), clusters))
