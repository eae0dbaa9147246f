"""How the federation judges a member (``member_states``): by what it says itself, unless the primary does not see
it healthy — as the member's own cluster read it from the primary (after a restart there), or else as the PRIMARY's
own view says, which the report of the cluster holding the PRIMARY carries."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from fedstate.models.base import utcnow
from fedstate.models.dataplane import DataPlaneStatus, MemberObservation, ReplsetMemberView
from fedstate.replset import HEALTHY
from fedstate.replset.lifecycle import member_states

STATES = st.sampled_from(["SECONDARY", "ARBITER", "STARTUP2", "RECOVERING", "ROLLBACK"])
SEEN = st.sampled_from(["", "SECONDARY", "STARTUP2", "DOWN"])


def member(ordinal: int, role: str, seen: str = "", ready: bool = True) -> MemberObservation:
    return MemberObservation(
        ordinal=ordinal, name=f"rs-m{ordinal}", address=f"10.0.0.1:{30000 + ordinal}", role=role, ready=ready,
        seen_by_primary=seen,
    )  # fmt: skip


def row(ordinal: int, state: str, health: int = 1) -> ReplsetMemberView:
    return ReplsetMemberView(id=ordinal, host=f"10.0.0.1:{30000 + ordinal}", state=0, state_str=state, health=health)


def with_primary(rows: list[ReplsetMemberView], term: int = 1) -> DataPlaneStatus:
    """The report of the cluster holding the PRIMARY (m0), with the primary's own view."""
    return DataPlaneStatus(
        cluster="member-1", initiated=True, members=[member(0, "PRIMARY", "PRIMARY")],
        replset=[row(0, "PRIMARY"), *rows], replset_term=term, observed_at=utcnow(),
    )  # fmt: skip


def elsewhere(*members: MemberObservation) -> DataPlaneStatus:
    return DataPlaneStatus(cluster="member-2", initiated=True, members=list(members), observed_at=utcnow())


@given(STATES, st.booleans(), SEEN, STATES, st.booleans())
@example(own="SECONDARY", ready=True, seen="", in_view="STARTUP2", heard=True)  # the primary has not heard it synced
@example(own="SECONDARY", ready=True, seen="", in_view="STARTUP2", heard=False)  # a view read before it came up
@example(own="SECONDARY", ready=True, seen="SECONDARY", in_view="STARTUP2", heard=True)  # read since, after a restart
def test_a_member_elsewhere_counts_once_the_primary_sees_it_healthy(
    own: str, ready: bool, seen: str, in_view: str, heard: bool
) -> None:
    observed = {
        "member-1": with_primary([row(1, in_view, health=int(heard))]),
        "member-2": elsewhere(member(1, own, seen, ready)),
    }
    said = own if ready else "DOWN"
    # its cluster's own read of the primary first; else the primary's view, if the primary hears it at all
    theirs = seen or (in_view if heard else "") or said
    expected = said if said not in HEALTHY or theirs in HEALTHY else theirs
    assert expected == member_states(observed)[1]


def test_a_member_the_primary_sees_syncing_still_is_not_healthy() -> None:
    """Its own cluster never read the primary (the member never restarted): the primary's view says."""
    observed = {"member-1": with_primary([row(1, "STARTUP2")]), "member-2": elsewhere(member(1, "SECONDARY"))}
    assert {0: "PRIMARY", 1: "STARTUP2"} == member_states(observed)


def test_the_newest_term_s_view_is_the_primary_s() -> None:
    """A report of an old PRIMARY (its cluster silent since) loses to the one of the newer term."""
    old = with_primary([row(1, "STARTUP2")], term=1)
    new = with_primary([row(1, "SECONDARY")], term=2).model_copy(update={"cluster": "member-3"})
    observed = {"member-1": old, "member-3": new, "member-2": elsewhere(member(1, "SECONDARY"))}
    assert "SECONDARY" == member_states(observed)[1]
