"""A deposed primary that rejoins shows ROLLBACK, then RECOVERING until it has caught up, then SECONDARY."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import MongoClient, WriteConcern
from pymongo.errors import NotPrimaryError

from fedstate_sim.mongo import FabricThread
from fedstate_sim.mongo.api import MemberLaunch
from fedstate_sim.mongo.services import FabricTuning
from fedstate_sim.mongo.testing import SetHarness, address, error_code, fast_settings, healthy_set, wait_until

OCTET = 231
ROLLBACK_MILLIS = 3000  # long enough to watch; mongod's rollback also takes a visible moment


@pytest.fixture
def three() -> Iterator[SetHarness]:
    with (
        # 1.5 s, not fast_settings' 400 ms: the primary cut off must still be primary for the write after the cut.
        FabricThread(fast_settings(1500), FabricTuning(rollback_millis=ROLLBACK_MILLIS)) as sim,
        healthy_set(sim, "rs0", {"c1": 1, "c2": 1, "c3": 1}, OCTET) as harness,
    ):
        yield harness


def _own_state(client: MongoClient[dict[str, Any]]) -> tuple[int, str]:
    """(state, stateStr) of the member ``client`` is connected to, from its own replSetGetStatus."""
    status = client.admin.command("replSetGetStatus")
    me = next(m for m in status["members"] if m.get("self"))
    assert status["myState"] == me["state"]
    return me["state"], me["stateStr"]


def _rolling_back(three: SetHarness) -> tuple[MemberLaunch, MemberLaunch, set[str]]:
    """The primary cut off takes a w:1 write ("doomed"), the others elect a new primary that takes a majority one
    ("kept"), and once healed the old primary is rolling back: (old primary, new primary, the others' clusters)."""
    old = three.wait_for_primary()
    others = {"c1", "c2", "c3"} - {old.cluster}
    three.sim.partition({old.cluster}, others)
    three.direct(old).app.get_collection("items", write_concern=WriteConcern(w=1)).insert_one({"_id": "doomed"})
    new = three.wait_for_primary(timeout=5, excluding=address(old))
    majority = three.direct(new).app.get_collection("items", write_concern=WriteConcern("majority"))
    majority.insert_one({"_id": "kept"})
    wait_until(lambda: address(old) not in three.running_primaries(), what="the old primary to step down")
    three.sim.heal()
    wait_until(lambda: _own_state(three.direct(old)) == (9, "ROLLBACK"), what="ROLLBACK on the old primary")
    return old, new, others


def test_a_rejoining_primary_shows_rollback_then_recovering_then_secondary(three: SetHarness) -> None:
    """replSetGetStatus shows ROLLBACK (9) and then RECOVERING (3) on the member rolling back, hello says it is
    neither primary nor secondary meanwhile, reads are refused; once caught up it is SECONDARY with the new
    primary's writes and without its own rolled-back one."""
    old, new, others = _rolling_back(three)
    client = three.direct(old)
    hello = client.admin.command("hello")
    assert (False, False) == (hello["isWritablePrimary"], hello["secondary"])
    three.wait_for_states({address(old): "ROLLBACK"}, via=new)  # peers see it too, by heartbeat

    # Cut off again while rolling back: with no sync source it cannot catch up, so it stays RECOVERING.
    three.sim.partition({old.cluster}, others)
    wait_until(lambda: _own_state(client) == (3, "RECOVERING"), what="RECOVERING on the old primary")
    hello = client.admin.command("hello")
    assert (False, False) == (hello["isWritablePrimary"], hello["secondary"])
    reader = three.direct(old, readPreference="secondaryPreferred").app.items
    with pytest.raises(NotPrimaryError) as refused:
        reader.find_one({"_id": "kept"})
    assert 13436 == error_code(refused.value)  # NotPrimaryOrSecondary, as mongod answers in RECOVERING

    three.sim.heal()
    wait_until(lambda: _own_state(client) == (2, "SECONDARY"), what="SECONDARY after catching up")
    assert client.admin.command("hello")["secondary"] is True
    assert {"_id": "kept"} == reader.find_one({"_id": "kept"})
    assert reader.find_one({"_id": "doomed"}) is None
    rolled_back = three.sim.inspect(lambda fabric: [r.member for r in fabric.rollbacks])
    assert [address(old)] == rolled_back


def test_a_member_restarted_before_it_caught_up_after_a_rollback_comes_back_recovering(three: SetHarness) -> None:
    """mongod keeps minValid on disk: restarted while RECOVERING (cut off from every sync source), the member comes
    back RECOVERING, not SECONDARY, and refuses reads until it holds what it needs; then it is SECONDARY."""
    old, _, others = _rolling_back(three)
    client = three.direct(old)
    three.sim.partition({old.cluster}, others)
    wait_until(lambda: _own_state(client) == (3, "RECOVERING"), what="RECOVERING on the old primary")

    three.sim.stop_member(old.host, old.port)
    three.sim.start_member(old)
    restarted = three.direct(old)
    wait_until(lambda: _own_state(restarted)[0] != 0, what="the restarted member to read its config")
    assert (3, "RECOVERING") == _own_state(restarted)
    reader = three.direct(old, readPreference="secondaryPreferred").app.items
    with pytest.raises(NotPrimaryError) as refused:
        reader.find_one({"_id": "kept"})
    assert 13436 == error_code(refused.value)

    three.sim.heal()
    wait_until(lambda: _own_state(restarted) == (2, "SECONDARY"), what="SECONDARY after catching up")
    assert {"_id": "kept"} == reader.find_one({"_id": "kept"})
