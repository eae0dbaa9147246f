"""A scale-down to fewer members than the clusters holding them empties clusters; the PRIMARY's is emptied last,
so its member stays and no election follows (the orchestrator keeps the PRIMARY among a cluster's members)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from scheduler_builders import cluster, layout, place, spec

CLUSTERS = [cluster(name) for name in ("a", "b", "c")]


def test_scaling_2_2_1_down_to_one_keeps_the_primarys_cluster() -> None:
    before = place(spec(5), CLUSTERS)
    assert {"a": 2, "b": 2, "c": 1} == layout(before)
    assert {"b": 1} == layout(place(spec(1), CLUSTERS, current=before, generation=2)), "the mode's order alone"
    for primary in ("a", "b", "c"):
        after = place(spec(1), CLUSTERS, current=before, generation=2, primary_cluster=primary)
        assert {primary: 1} == layout(after)


@given(
    st.sampled_from(["Uniform", "Aggregated", "Dynamic"]),
    st.integers(min_value=3, max_value=9),
    st.integers(min_value=1, max_value=2),
    st.sampled_from(["a", "b", "c"]),
)
def test_a_scale_down_keeps_a_member_where_the_primary_is(mode: str, before: int, after: int, primary: str) -> None:
    """Whatever the mode, a scale-down below the clusters in use keeps one in the PRIMARY's cluster when that
    cluster held members (a PRIMARY elsewhere is unknown to the placement: it changes nothing)."""
    current = place(spec(before, scheduler={"schedulerMode": mode}), CLUSTERS)
    smaller = place(
        spec(after, scheduler={"schedulerMode": mode}), CLUSTERS, current=current, generation=2, primary_cluster=primary
    )
    assert after == sum(layout(smaller).values())
    if primary in layout(current):
        assert primary in layout(smaller)
