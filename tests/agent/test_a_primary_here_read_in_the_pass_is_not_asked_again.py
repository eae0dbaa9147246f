"""When the primary is one of this cluster's members and the pass has just read its replSetGetStatus, how it sees
the members comes from that answer: the agent does not ask it the same again (``own_primary_view``)."""

from __future__ import annotations

from datetime import timedelta

from fedstate.models.base import utcnow
from fedstate.models.dataplane import MemberObservation, ReplsetMemberView
from fedstate_agent.memberset import Snapshot, own_primary_view
from fedstate_agent.mongo import MemberState, PrimaryView

ROWS = [
    ReplsetMemberView(id=0, host="10.0.0.1:30000", state=1, state_str="PRIMARY", health=1),
    ReplsetMemberView(id=1, host="10.0.0.1:30001", state=2, state_str="SECONDARY", health=1),
    ReplsetMemberView(id=2, host="10.0.0.2:30002", state=8, state_str="(not reachable/healthy)", health=0),
]


def snapshot(role: str, read_ago: float | None) -> Snapshot:
    read_at = utcnow() - timedelta(seconds=read_ago) if read_ago is not None else None
    state = MemberState(True, role, True, None, ROWS, "7.0.0", read_at, 3, heartbeat_seconds=2.0)
    member = MemberObservation(ordinal=0, name="rs-m0", address="10.0.0.1:30000", ready=True)
    return Snapshot([member], {0: state}, {})


def test_a_primary_here_read_in_this_pass_answers_for_itself() -> None:
    read_since = utcnow() - timedelta(seconds=1)
    expected = PrimaryView({0: "PRIMARY", 1: "SECONDARY", 2: "DOWN"}, 2.0)
    assert expected == own_primary_view(snapshot("PRIMARY", read_ago=0), read_since)


def test_a_primary_read_in_an_earlier_pass_or_elsewhere_is_asked() -> None:
    read_since = utcnow() - timedelta(seconds=1)
    assert own_primary_view(snapshot("PRIMARY", read_ago=30), read_since) is None, "a steady state kept from before"
    assert own_primary_view(snapshot("PRIMARY", read_ago=None), read_since) is None, "known by its hello only"
    assert own_primary_view(snapshot("SECONDARY", read_ago=0), read_since) is None, "the primary is elsewhere"
