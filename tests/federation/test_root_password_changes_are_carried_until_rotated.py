"""auth.rootPasswd changes (issue 5, item 4): the orchestrator carries every root password the members may
still hold, newest first, so the agent can log in and rotate however many changes came before it did."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fedstate.models.dataplane import MAX_EARLIER_ROOT_PASSWORDS, Credentials
from fedstate_federation.domain.dataplane import rotate


def creds(root: str) -> Credentials:
    return Credentials(key_file="k", root_password=root, cluster_admin_password="a", cluster_monitor_password="m")


def test_two_quick_changes_keep_both_earlier_passwords() -> None:
    written = rotate(None, creds("one"))
    written = rotate(written, creds("two"))
    written = rotate(written, creds("three"))
    assert ("three", ["two", "one"]) == (written.root_password, written.earlier_root_passwords())


def test_an_unchanged_password_carries_what_was_remembered_and_a_return_drops_it() -> None:
    written = rotate(rotate(creds("one"), creds("two")), creds("two"))
    assert ["one"] == written.earlier_root_passwords()
    assert [] == rotate(written, creds("one")).earlier_root_passwords()[1:], "'one' is current again, not earlier"


@given(st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f", "g"]), min_size=1, max_size=12))
def test_the_last_changes_are_remembered_newest_first_without_repeats(roots: list[str]) -> None:
    written: Credentials | None = None
    for root in roots:
        written = rotate(written, creds(root))
    assert written is not None
    earlier = written.earlier_root_passwords()
    distinct_before = list(dict.fromkeys(reversed(roots[:-1])))  # newest first, each once
    expected = [p for p in distinct_before if p != roots[-1]][:MAX_EARLIER_ROOT_PASSWORDS]
    assert expected == earlier
