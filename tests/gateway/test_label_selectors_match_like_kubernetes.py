"""Label selectors read as Kubernetes reads them: equality- and set-based requirements, all of which must hold;
``!=`` and ``notin`` also match objects without the label; what does not parse is refused with the requirement named."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedstate.api.selectors import Operator, Requirement, Selector, SelectorError, parse_selector

LABELS = {"tier": "db", "env": "prod", "app.kubernetes.io/name": "mongo"}


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ("tier=db", True),
        ("tier==db", True),
        ("tier!=db", False),
        ("tier!=web", True),
        ("zone!=a", True),
        ("tier in (db,cache)", True),
        ("tier in (web)", False),
        ("tier notin (web, cache)", True),
        ("zone notin (a)", True),
        ("tier", True),
        ("!tier", False),
        ("!zone", True),
        ("tier=db,env=prod", True),
        ("tier=db,env in (qa)", False),
        ("app.kubernetes.io/name=mongo", True),
        ("", True),
    ],
)
def test_requirements_match_as_in_kubernetes(text: str, matches: bool) -> None:
    assert matches == parse_selector(text).matches(LABELS)


@pytest.mark.parametrize("text", ["tier=db,", "tier in db", "tier in (db", "=db", "tier=d b", "bad key!=x", "tier=-db"])
def test_what_does_not_parse_is_named(text: str) -> None:
    with pytest.raises(SelectorError, match="unable to parse"):
        parse_selector(text)


names = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True)
requirements = st.one_of(
    st.builds(Requirement, names, st.sampled_from([Operator.EQUALS, Operator.NOT_EQUALS]), st.tuples(names)),
    st.builds(
        Requirement,
        names,
        st.sampled_from([Operator.IN, Operator.NOT_IN]),
        st.lists(names, min_size=1, max_size=3).map(tuple),
    ),
    st.builds(Requirement, names, st.sampled_from([Operator.EXISTS, Operator.DOES_NOT_EXIST])),
)


@given(st.lists(requirements, max_size=4).map(tuple), st.dictionaries(names, names, max_size=4))
def test_a_selector_reads_back_as_written_and_matches_by_its_definition(
    written: tuple[Requirement, ...], labels: dict[str, str]
) -> None:
    selector = Selector(written)
    assert selector == parse_selector(str(selector))
    expected = all(_holds(r, labels) for r in written)
    assert expected == selector.matches(labels)


def _holds(requirement: Requirement, labels: dict[str, str]) -> bool:
    """The definition in the Kubernetes docs, written out separately from the implementation."""
    has, value, values = requirement.key in labels, labels.get(requirement.key), requirement.values
    if requirement.operator in (Operator.EXISTS, Operator.DOES_NOT_EXIST):
        return has == (requirement.operator is Operator.EXISTS)
    if requirement.operator in (Operator.EQUALS, Operator.IN):
        return has and value in values
    return not has or value not in values
