"""A steady set's members read again have newer optimes (a primary writes a no-op every 10 s) and a newer read
time, and nothing else new: the agent publishes no report for that, so safety re-reads of a large fleet are not
a stream of writes. Any other difference is news."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from fedstate.models.base import utcnow
from fedstate.models.dataplane import DataPlaneStatus, MemberObservation, ReplsetMemberView
from fedstate.models.replicaset import OpTime
from fedstate_agent.reconciler import is_news, news_in

ROLES = ("PRIMARY", "SECONDARY", "SECONDARY")


def reading(optime: int, read_at_offset: float = 0.0, health: int = 1, role: str = "SECONDARY") -> DataPlaneStatus:
    """One cluster's report of a three-member set, read with the set's last write at ``optime`` (seconds)."""
    roles = (*ROLES[:2], role)
    members = [
        MemberObservation(
            ordinal=i, name=f"rs-m{i}", pod_phase="Running", ready=True, role=r, optime=OpTime(ts=optime, i=1, t=1)
        )
        for i, r in enumerate(roles)
    ]
    rows = [
        ReplsetMemberView(
            id=i,
            host=f"h{i}",
            state=1 if r == "PRIMARY" else 2,
            state_str=r,
            health=health if i == 2 else 1,
            optime_seconds=optime,
        )
        for i, r in enumerate(roles)
    ]
    at = utcnow() + timedelta(seconds=read_at_offset)
    return DataPlaneStatus(
        cluster="member-1",
        initiated=True,
        users_ready=True,
        members=members,
        replset=rows,
        replset_seen_at=at,
        replset_term=1,
        observed_at=at,
    )


@given(st.integers(min_value=1, max_value=10**6), st.integers(min_value=0, max_value=10**6), st.floats(0, 3600))
def test_newer_optimes_and_read_times_alone_are_no_news(optime: int, later: int, seconds: float) -> None:
    assert not is_news(reading(optime), reading(optime + later, seconds))


@given(st.integers(min_value=1, max_value=10**6), st.integers(min_value=0, max_value=10**6))
def test_a_peer_lost_or_a_role_changed_is_news_whatever_the_optimes(optime: int, later: int) -> None:
    assert is_news(reading(optime), reading(optime + later, health=0))
    assert is_news(reading(optime), reading(optime + later, role="PRIMARY"))
    assert is_news(reading(optime), reading(optime + later).model_copy(update={"users_ready": False}))
    assert is_news(reading(optime), reading(optime).model_copy(update={"replset": reading(optime).replset[:2]}))


@given(st.integers(min_value=1, max_value=10**6), st.integers(min_value=0, max_value=10**6), st.floats(0, 3600))
def test_the_news_named_is_what_changed_and_never_a_reading(optime: int, later: int, seconds: float) -> None:
    """What the agent's debug log names when it writes a report: the fields that make it news, and no reading."""
    before = reading(optime)
    assert [] == news_in(before, reading(optime + later, seconds))
    assert ["replset[2].health"] == news_in(before, reading(optime + later, seconds, health=0))
    assert ["members[2].role", "replset[2].state", "replset[2].state_str"] == news_in(
        before, reading(optime + later, role="PRIMARY")
    )
    assert ["replset"] == news_in(before, before.model_copy(update={"replset": before.replset[:2]}))
