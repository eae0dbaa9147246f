"""Two rules of MongoDB's replication the simulator keeps: a member counts towards a write only if it holds
that write (the history it shares with the primary, never a later optime of another term), and a primary
that has not heard from a majority for electionTimeoutMillis steps down, counting from the last contact."""

from __future__ import annotations

from fedstate_sim.mongo.heartbeat import majority_heard_at
from fedstate_sim.mongo.replication import held_of, majority_point
from fedstate_sim.mongo.storage import MemberData, OplogEntry, OpTime


def data(*optimes: OpTime) -> MemberData:
    return MemberData(key="k", oplog=[OplogEntry(o, "i", "db.c", {"_id": o.inc}, 0.0) for o in optimes])


SHARED = OpTime(1, 100, 1)
OLD_PRIMARY_WRITE = OpTime(1, 100, 2)  # acknowledged only if a majority holds it
NEW_TERM_WRITE = OpTime(2, 105, 1)  # what the other side's new primary wrote meanwhile


def test_a_peer_with_a_newer_term_does_not_hold_the_deposed_primarys_write() -> None:
    old_primary = data(SHARED, OLD_PRIMARY_WRITE)
    other_side = data(SHARED, NEW_TERM_WRITE)
    assert NEW_TERM_WRITE > OLD_PRIMARY_WRITE  # optimes order across terms: the trap
    assert SHARED == held_of(old_primary, other_side)
    voting = [old_primary.last_optime, held_of(old_primary, other_side)]
    assert OLD_PRIMARY_WRITE > (majority_point(voting, 2) or SHARED)


def test_a_peer_on_the_same_history_holds_up_to_its_last_entry() -> None:
    primary = data(SHARED, OLD_PRIMARY_WRITE, OpTime(1, 101, 1))
    assert OLD_PRIMARY_WRITE == held_of(primary, data(SHARED, OLD_PRIMARY_WRITE))
    assert OpTime(-1, 0, 0) == held_of(primary, data())


def test_the_majority_was_last_heard_at_its_majority_th_newest_contact() -> None:
    """Five voters: itself now (10), two peers cut off at 4 and 3, two at 9.5 and 9: a majority (3) was
    last complete at 9; knowing only itself and the two cut off, at 3."""
    assert 9.0 == majority_heard_at([10.0, 4.0, 3.0, 9.5, 9.0], 3)
    assert 3.0 == majority_heard_at([10.0, 4.0, 3.0], 3)
    assert float("-inf") == majority_heard_at([10.0], 2)
