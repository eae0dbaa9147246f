"""replSetInitiate and replSetReconfig enforce MongoDB's rules, and added members sync before serving."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import WriteConcern
from pymongo.errors import NotPrimaryError, OperationFailure

from fedstate_sim.mongo import FabricThread
from fedstate_sim.mongo.api import MemberLaunch
from fedstate_sim.mongo.testing import (
    SetHarness,
    address,
    error_code,
    fast_settings,
    initiate_document,
    member_states,
    wait_until,
)

OCTET = 203


@pytest.fixture
def sim() -> Iterator[FabricThread]:
    with FabricThread(fast_settings()) as thread:
        yield thread


@pytest.fixture
def harness(sim: FabricThread) -> Iterator[SetHarness]:
    """Five started members; only the first three are initiated (the rest are spares to add)."""
    harness = SetHarness(sim, "rs0", {"c1": 2, "c2": 2, "c3": 1}, OCTET).start()
    yield harness
    harness.close()


def _initiate_three(harness: SetHarness) -> dict[str, Any]:
    document = initiate_document("rs0", harness.launches[:3])
    harness.direct(harness.launches[0]).admin.command("replSetInitiate", document)
    primary = harness.wait_for_primary()
    wait_until(lambda: set(member_states(harness.direct(primary)).values()) == {"PRIMARY", "SECONDARY"})
    return dict(harness.direct(primary).admin.command("replSetGetConfig")["config"])


def _reconfig(harness: SetHarness, config: dict[str, Any], **options: Any) -> dict[str, Any]:
    primary = harness.wait_for_primary()
    config = {**config, "version": config["version"] + 1}
    harness.direct(primary).admin.command("replSetReconfig", config, maxTimeMS=5000, **options)
    return config


def _member(harness: SetHarness, index: int, **fields: Any) -> dict[str, Any]:
    return {"_id": index, "host": address(harness.launches[index]), **fields}


def _error(call: Any) -> OperationFailure:
    with pytest.raises(OperationFailure) as failure:
        call()
    return failure.value


def test_initiate_requires_this_member_in_the_config(harness: SetHarness) -> None:
    """A config that does not name the receiving member is refused with NodeNotFound (74)."""
    document = initiate_document("rs0", harness.launches[1:3])
    error = _error(lambda: harness.direct(harness.launches[0]).admin.command("replSetInitiate", document))
    assert 74 == error.code


def test_initiate_rejects_more_than_seven_voters(sim: FabricThread) -> None:
    """Eight voting members break the 7-voter rule (InvalidReplicaSetConfig, 93)."""
    big = SetHarness(sim, "rs8", {"c1": 8}, OCTET).start()
    error = _error(lambda: big.initiate())
    assert 93 == error.code
    assert "voting members" in str(error)
    big.close()


def test_initiate_twice_is_already_initialized(harness: SetHarness) -> None:
    _initiate_three(harness)
    error = _error(lambda: harness.direct(harness.launches[0]).admin.command("replSetInitiate", {}))
    assert 23 == error.code


def test_a_reconfig_adding_two_voters_is_refused_but_one_at_a_time_works(harness: SetHarness) -> None:
    """Adding members 3 and 4 as voters in one step breaks the one-voter rule; two steps succeed."""
    config = _initiate_three(harness)
    both = {**config, "members": [*config["members"], _member(harness, 3), _member(harness, 4)]}
    error = _error(lambda: _reconfig(harness, both))
    assert 103 == error.code
    assert "at most 1 voting member" in str(error)
    config = _reconfig(harness, {**config, "members": [*config["members"], _member(harness, 3)]})
    config = _reconfig(harness, {**config, "members": [*config["members"], _member(harness, 4)]})
    primary = harness.wait_for_primary()
    final = harness.direct(primary).admin.command("replSetGetConfig")["config"]
    assert 5 == sum(m["votes"] for m in final["members"])


def test_a_non_voting_member_goes_through_startup2_to_secondary(harness: SetHarness) -> None:
    """A member added with votes 0 / priority 0 does its initial sync (STARTUP2), then is SECONDARY."""
    config = _initiate_three(harness)
    primary = harness.wait_for_primary()
    harness.client().app.items.insert_one({"_id": "before-add"})
    new = harness.launches[3]
    _reconfig(harness, {**config, "members": [*config["members"], _member(harness, 3, votes=0, priority=0)]})
    seen: list[str] = []

    def reached_secondary() -> bool:
        state = member_states(harness.direct(primary)).get(address(new), "")
        if not seen or seen[-1] != state:
            seen.append(state)
        return state == "SECONDARY"

    wait_until(reached_secondary, interval=0.01, what="the new member to become SECONDARY")
    assert "STARTUP2" in seen
    reader = harness.direct(new, readPreference="secondaryPreferred")
    assert {"_id": "before-add"} == reader.app.items.find_one()


def test_reconfig_needs_a_higher_version(harness: SetHarness) -> None:
    config = _initiate_three(harness)
    primary = harness.wait_for_primary()
    error = _error(lambda: harness.direct(primary).admin.command("replSetReconfig", config))
    assert 103 == error.code


def test_reconfig_on_a_secondary_is_not_primary(harness: SetHarness) -> None:
    config = _initiate_three(harness)
    primary = harness.wait_for_primary()
    secondary = next(launch for launch in harness.launches[:3] if launch != primary)
    command = {**config, "version": config["version"] + 1}
    with pytest.raises(NotPrimaryError) as failure:
        harness.direct(secondary).admin.command("replSetReconfig", command)
    assert 10107 == error_code(failure.value)


def test_forced_reconfig_installs_at_once_and_is_recorded(harness: SetHarness) -> None:
    """force: true on a secondary installs a much higher version there and the fabric records it."""
    config = _initiate_three(harness)
    primary = harness.wait_for_primary()
    secondary = next(launch for launch in harness.launches[:3] if launch != primary)
    harness.direct(secondary).admin.command("replSetReconfig", config, force=True)
    installed = harness.direct(secondary).admin.command("replSetGetConfig")["config"]
    assert installed["version"] >= config["version"] + 10_000
    records = harness.sim.inspect(lambda fabric: [(r.member, r.version) for r in fabric.forced_reconfigs])
    assert [(address(secondary), installed["version"])] == records


def test_a_member_left_out_of_the_config_goes_removed(harness: SetHarness) -> None:
    """Removing one voter: the removed member learns it by heartbeat and reports REMOVED (no setName)."""
    config = _initiate_three(harness)
    primary = harness.wait_for_primary()
    removed = next(launch for launch in harness.launches[:3] if launch != primary)
    kept = [m for m in config["members"] if m["host"] != address(removed)]
    _reconfig(harness, {**config, "members": kept})
    client = harness.direct(removed)
    wait_until(lambda: "setName" not in client.admin.command("hello"), what="the member to learn it was removed")
    error = _error(lambda: client.admin.command("replSetGetStatus"))
    assert 93 == error.code
    member = harness.sim.inspect(lambda fabric: fabric.member(removed.host, removed.port))
    assert member is not None and "REMOVED" == member.state.name


def test_a_config_not_committed_by_a_majority_blocks_the_next_reconfig(harness: SetHarness) -> None:
    """Adding a voter that is down leaves the new config uncommitted: reconfig gives up with 308 (maxTimeMS)."""
    config = _initiate_three(harness)
    primary = harness.wait_for_primary()
    absent = harness.launches[3]
    harness.sim.stop_member(absent.host, absent.port)
    down = next(launch for launch in harness.launches[:3] if launch != primary)
    harness.sim.stop_member(down.host, down.port)
    grown = {**config, "version": config["version"] + 1, "members": [*config["members"], _member(harness, 3)]}
    admin = harness.direct(primary).admin
    error = _error(lambda: admin.command("replSetReconfig", grown, maxTimeMS=100))
    assert (308, "CurrentConfigNotCommittedYet") == (error.code, error.details and error.details["codeName"])
    again = {**grown, "version": grown["version"] + 1}
    error = _error(lambda: admin.command("replSetReconfig", again, maxTimeMS=100))
    assert 308 == error.code


def test_a_lone_survivor_of_a_lost_majority_becomes_the_set_by_force_with_its_writes(harness: SetHarness) -> None:
    """Disaster recovery as MongoDB documents it: two of three members are lost (their cluster is down), the
    survivor cannot be reconfigured safely (no primary), a forced config of the survivor alone installs with
    the proposed version + 10,000 + a random amount below 100,000, and the survivor is elected with every
    write it held."""
    config = _initiate_three(harness)
    primary = harness.wait_for_primary()
    primary_client = harness.direct(primary)
    primary_client.get_database("ledger", write_concern=WriteConcern(w=3, wtimeout=5000)).entries.insert_one(
        {"_id": "held"}
    )
    survivor = harness.launches[2]  # c1 holds launches 0 and 1
    harness.sim.inspect(lambda fabric: fabric.set_cluster_down("c1", True))
    client = harness.direct(survivor)
    wait_until(lambda: client.admin.command("hello").get("secondary"), what="the survivor to be SECONDARY")
    alone = {**config, "version": config["version"] + 1, "members": [_member(harness, 2)]}
    with pytest.raises(NotPrimaryError) as refused:
        client.admin.command("replSetReconfig", alone)
    assert 10107 == error_code(refused.value), "no safe reconfig without a primary"
    client.admin.command("replSetReconfig", alone, force=True)
    installed = client.admin.command("replSetGetConfig")["config"]
    assert alone["version"] + 10_000 <= installed["version"] < alone["version"] + 110_000
    wait_until(lambda: client.admin.command("hello").get("isWritablePrimary"), what="the survivor to be elected")
    assert {"_id": "held"} == client.ledger.entries.find_one({"_id": "held"})


def test_a_primary_left_unelectable_by_a_forced_config_steps_down(harness: SetHarness) -> None:
    config = _initiate_three(harness)
    primary = harness.wait_for_primary()
    index = harness.launches.index(primary)
    members = [_member(harness, i, priority=0) if i == index else _member(harness, i) for i in range(3)]
    harness.direct(primary).admin.command("replSetReconfig", {**config, "members": members}, force=True)
    wait_until(lambda: not harness.direct(primary).admin.command("hello").get("isWritablePrimary"),
               what="the primary to step down")  # fmt: skip


def _initiate_with_a_delayed_member(harness: SetHarness) -> tuple[dict[str, Any], MemberLaunch, MemberLaunch]:
    """Three members, the third an hour behind (secondaryDelaySecs, priority 0): it installs every config at
    once but holds no new write. Returns the config, the primary and the other electable member."""
    document = initiate_document("rs0", harness.launches[:3], m2={"priority": 0, "secondaryDelaySecs": 3600})
    harness.direct(harness.launches[0]).admin.command("replSetInitiate", document)
    primary = harness.wait_for_primary()
    other = next(launch for launch in harness.launches[:2] if launch != primary)
    wait_until(
        lambda: sorted(member_states(harness.direct(primary)).values()) == ["PRIMARY", "SECONDARY", "SECONDARY"],
        what="the delayed member synced and SECONDARY",
    )
    config = dict(harness.direct(primary).admin.command("replSetGetConfig")["config"])
    return config, primary, other


def _commitment(harness: SetHarness, primary: MemberLaunch) -> bool:
    return bool(harness.direct(primary).admin.command("replSetGetConfig", commitmentStatus=True)["commitmentStatus"])


def test_a_reconfig_waits_until_what_the_old_config_committed_is_committed_in_the_new_one(
    harness: SetHarness,
) -> None:
    """mongod's oplog commitment: a write committed by the primary and the other electable member; removing that
    member leaves a config where only the primary holds the write (the delayed member has not applied it). The
    new config installs, but the reconfig gives up at maxTimeMS (308), the config shows as not committed, and
    the next reconfig is refused, so no second step can leave the write on a minority."""
    config, primary, other = _initiate_with_a_delayed_member(harness)
    admin = harness.direct(primary).admin
    harness.direct(primary).app.get_collection(
        "items", write_concern=WriteConcern("majority", wtimeout=5000)
    ).insert_one({"_id": "committed-in-the-old-config"})
    shrunk = {
        **config,
        "version": config["version"] + 1,
        "members": [m for m in config["members"] if m["host"] != address(other)],
    }
    error = _error(lambda: admin.command("replSetReconfig", shrunk, maxTimeMS=1000))
    assert 308 == error.code, error
    assert shrunk["version"] == admin.command("replSetGetConfig")["config"]["version"], "installed all the same"
    assert not _commitment(harness, primary)
    again = {**shrunk, "version": shrunk["version"] + 1}
    assert 308 == _error(lambda: admin.command("replSetReconfig", again, maxTimeMS=300)).code


def test_a_new_primary_reconfigures_only_once_its_first_entry_of_the_term_is_committed(harness: SetHarness) -> None:
    """mongod's oplog commitment includes the primary's first optime of its term: with the other electable member
    down and the third delayed, a primary elected again cannot commit its "new primary" entry, so a reconfig
    waits and gives up at maxTimeMS (308) although every member has the current config."""
    config, primary, other = _initiate_with_a_delayed_member(harness)
    harness.sim.stop_member(other.host, other.port)
    admin = harness.direct(primary).admin
    admin.command("replSetStepDown", 1, secondaryCatchUpPeriodSecs=0, force=True)
    admin.command("replSetFreeze", 0)
    wait_until(lambda: _step_up(admin), what="the primary to be elected again")
    assert not _commitment(harness, primary)
    same = {**config, "version": config["version"] + 1}
    assert 308 == _error(lambda: admin.command("replSetReconfig", same, maxTimeMS=1000)).code


def _step_up(admin: Any) -> bool:
    try:
        admin.command("replSetStepUp")
    except OperationFailure:
        return False
    return bool(admin.command("hello").get("isWritablePrimary"))
