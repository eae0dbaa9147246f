"""Members keep their ordinals (replica-set _ids and Kubernetes names) for their whole life."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fedstate.replset.members import assign_members

placements = st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), st.integers(0, 9), min_size=1)


def test_a_first_assignment_numbers_members_from_zero_in_cluster_order() -> None:
    assert {"a": [0, 1], "b": [2, 3], "c": [4]} == assign_members({}, {"a": 2, "b": 2, "c": 1})


@given(placements, placements)
def test_members_that_stay_keep_their_ordinals_and_counts_match(first: dict[str, int], second: dict[str, int]) -> None:
    before = assign_members({}, first)
    after = assign_members(before, second)
    assert {c: n for c, n in second.items() if n} == {c: len(o) for c, o in after.items()}
    for cluster, ordinals in after.items():
        kept = set(before.get(cluster, []))
        assert len(kept & set(ordinals)) == min(len(kept), second[cluster])
    every = [o for ordinals in after.values() for o in ordinals]
    assert len(every) == len(set(every))


@given(placements)
def test_reassigning_an_unchanged_placement_changes_nothing(wanted: dict[str, int]) -> None:
    once = assign_members({}, wanted)
    assert once == assign_members(once, wanted)


ranks = st.dictionaries(st.integers(0, 40), st.integers(0, 4))


@given(placements, placements, ranks)
def test_a_cluster_that_wants_fewer_members_keeps_those_of_the_lowest_rank(
    first: dict[str, int], second: dict[str, int], rank: dict[int, int]
) -> None:
    before = assign_members({}, first)
    after = assign_members(before, second, rank=rank)
    assert {c: n for c, n in second.items() if n} == {c: len(o) for c, o in after.items()}
    for cluster, ordinals in before.items():
        kept = [o for o in ordinals if o in after.get(cluster, [])]
        left = [o for o in ordinals if o not in kept]
        order = {o: (rank.get(o, float("inf")), o) for o in ordinals}
        assert all(order[k] < order[g] for k in kept for g in left)
        assert len(kept) == min(len(ordinals), second.get(cluster, 0))
