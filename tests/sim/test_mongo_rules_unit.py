"""Pure pieces of the simulated mongod, without sockets: config rules, queries, wire codec, faults."""

from __future__ import annotations

import asyncio
import dataclasses
import struct
from typing import Any

import bson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedstate_sim.mongo.errors import CommandError
from fedstate_sim.mongo.network import Network
from fedstate_sim.mongo.query import matches, run_pipeline
from fedstate_sim.mongo.reconfig import check_reconfig, voter_changes
from fedstate_sim.mongo.replication import majority_point
from fedstate_sim.mongo.rsconfig import ConfigDefaults, majority_of, parse_config
from fedstate_sim.mongo.scheduler import Scheduler
from fedstate_sim.mongo.storage import OpTime
from fedstate_sim.mongo.versions import max_wire_version, version_string
from fedstate_sim.mongo.wire import FLAG_EXHAUST_ALLOWED, OP_MSG, parse_request

DEFAULTS = ConfigDefaults(heartbeat_interval_millis=2000, election_timeout_millis=10_000)


def config(*members: dict[str, Any], version: int = 1) -> dict[str, Any]:
    return {
        "_id": "rs0",
        "version": version,
        "members": [{"_id": i, "host": f"h{i}:1", **m} for i, m in enumerate(members)],
    }


def invalid(doc: dict[str, Any]) -> str:
    with pytest.raises(CommandError) as failure:
        parse_config(doc, DEFAULTS, version_required=True)
    return failure.value.message


def test_a_plain_five_member_config_is_valid() -> None:
    parsed = parse_config(config(*[{}] * 5), DEFAULTS, version_required=True)
    assert (5, 3, 3) == (len(parsed.voters), parsed.majority, parsed.write_majority)
    assert 10_000 == parsed.election_timeout_millis


@pytest.mark.parametrize(
    ("members", "fragment"),
    [
        ([{}] * 8, "8 voting members"),
        ([{"votes": 2}], "must be 0 or 1"),
        ([{"priority": 1001}], "out of range"),
        ([{}, {"votes": 0}], "priority must be 0 when non-voting"),
        ([{}, {"arbiterOnly": True, "priority": 1}], "arbiter must have priority 0"),
        ([{}, {"hidden": True}], "priority must be 0 when hidden"),
        ([{}, {"arbiterOnly": True}, {"arbiterOnly": True}], "Multiple arbiters"),
        ([{"priority": 0}], "at least one non-arbiter member with priority > 0"),
        ([{"color": "red"}], "Unexpected field color"),
    ],
)
def test_config_rules_name_the_broken_rule(members: list[dict[str, Any]], fragment: str) -> None:
    assert fragment in invalid(config(*members))


def test_duplicate_ids_and_hosts_are_refused() -> None:
    same_id = config({}, {})
    same_id["members"][1]["_id"] = 0
    same_host = config({}, {})
    same_host["members"][1]["host"] = "h0:1"
    assert "same _id field" in invalid(same_id)
    assert "same host field" in invalid(same_host)


def test_an_arbiter_does_not_count_towards_write_majority() -> None:
    parsed = parse_config(config({}, {}, {"arbiterOnly": True}), DEFAULTS, version_required=True)
    assert (2, 2) == (parsed.majority, parsed.write_majority)


@pytest.mark.parametrize(
    ("members", "implicit"),
    [
        ([{}, {}, {"arbiterOnly": True}], 1),  # P-S-A: 2 data voters, majority 2
        ([{}, {}, {}, {}, {"arbiterOnly": True}], "majority"),  # 4 data voters > majority 3
        ([{}, {}, {}], "majority"),  # no arbiter
        ([{}, {}, {"votes": 0, "priority": 0}, {"arbiterOnly": True}], 1),  # a non-voter does not count
    ],
)
def test_the_implicit_default_write_concern_follows_the_5_0_rule(members: list[dict[str, Any]], implicit: Any) -> None:
    """w:1 only with an arbiter and no more data-bearing voters than the voting majority (mongod 5.0+)."""
    assert implicit == parse_config(config(*members), DEFAULTS, version_required=True).implicit_write_concern


def test_a_host_without_port_gets_27017() -> None:
    parsed = parse_config({"_id": "rs0", "members": [{"_id": 0, "host": "Mongo-0"}]}, DEFAULTS, version_required=False)
    assert "mongo-0:27017" == parsed.members[0].host


def test_reconfig_rules() -> None:
    old = parse_config(config({}, {}, {}), DEFAULTS, version_required=True)
    two_more = parse_config(config({}, {}, {}, {}, {}, version=2), DEFAULTS, version_required=True)
    same_version = parse_config(config({}, {}, {}, {}), DEFAULTS, version_required=True)
    with pytest.raises(CommandError, match="at most 1 voting member"):
        check_reconfig(old, _same_set(two_more, old), force=False)
    check_reconfig(old, _same_set(two_more, old), force=True)
    with pytest.raises(CommandError, match="must be greater"):
        check_reconfig(old, _same_set(same_version, old), force=False)


def _same_set(new: Any, old: Any) -> Any:
    return dataclasses.replace(new, replica_set_id=old.replica_set_id)


@given(st.sets(st.integers(0, 8), max_size=6), st.sets(st.integers(0, 8), max_size=6))
def test_voter_changes_counts_added_plus_removed_voters(a: set[int], b: set[int]) -> None:
    def cfg(ids: set[int]) -> Any:
        members = [{"_id": i, "host": f"h{i}:1", "votes": int(i in ids), "priority": int(i in ids)} for i in range(10)]
        members[9] = {"_id": 9, "host": "h9:1"}  # always one electable voter
        return parse_config({"_id": "rs0", "version": 1, "members": members}, DEFAULTS, version_required=True)

    old, new = cfg(a), cfg(b)
    assert voter_changes(old, new) == voter_changes(new, old) == len((a - {9}) ^ (b - {9}))


def test_count_documents_pipeline() -> None:
    """pymongo's count_documents sends $match, optional $skip/$limit, then $group with $sum: 1."""
    docs = [{"_id": i, "x": i % 3} for i in range(10)]
    pipeline: list[dict[str, Any]] = [{"$match": {"x": 1}}, {"$skip": 1}, {"$group": {"_id": 1, "n": {"$sum": 1}}}]
    assert [{"_id": 1, "n": 2}] == run_pipeline(docs, pipeline)


def test_filters() -> None:
    doc = {"a": 1, "b": {"c": "x"}, "tags": ["p", "q"]}
    assert matches(doc, {"a": 1, "b.c": "x", "tags": "q"})
    assert matches(doc, {"a": {"$gte": 1, "$in": [1, 2]}, "missing": {"$exists": False}})
    assert not matches(doc, {"$or": [{"a": 2}, {"b.c": "y"}]})


@pytest.mark.parametrize(
    ("image", "version", "wire"),
    [
        ("mongo:6.0", "6.0.0", 17),
        ("mongo:7.0.4-jammy", "7.0.4", 21),
        ("mongo", "7.0.0", 21),
        ("mongo:5.0", "5.0.0", 13),
        ("mongo:4.4.29", "4.4.29", 9),
        ("mongo:4.2", "4.2.0", 8),
        ("mongo:3.6", "3.6.0", 6),
    ],
)
def test_versions_come_from_the_image_tag(image: str, version: str, wire: int) -> None:
    assert (version, wire) == (version_string(image), max_wire_version(image))


def test_op_msg_kind_1_sections_become_command_arrays() -> None:
    command = bson.encode({"insert": "items", "$db": "app"})
    docs = bson.encode({"_id": 1}) + bson.encode({"_id": 2})
    sequence = b"documents\x00" + docs
    body = (
        struct.pack("<I", FLAG_EXHAUST_ALLOWED)
        + b"\x00"
        + command
        + b"\x01"
        + struct.pack("<i", 4 + len(sequence))
        + sequence
    )
    request = parse_request(3, OP_MSG, body)
    assert ("app", [{"_id": 1}, {"_id": 2}], True) == (
        request.db,
        request.command["documents"],
        request.exhaust_allowed,
    )


def test_partitions_and_down_clusters_cut_reachability() -> None:
    network = Network()
    network.partition({"a"}, {"b", "c"})
    assert (False, True, True) == (
        network.reachable("a", "b"),
        network.reachable("b", "c"),
        network.reachable("a", "a"),
    )
    network.set_down("c", True)
    assert not network.reachable("b", "c")
    network.heal()
    network.set_down("c", False)
    assert network.reachable("a", "b") and network.reachable("b", "c")


async def test_the_scheduler_runs_due_jobs_in_order_and_skips_cancelled() -> None:
    scheduler, ran = Scheduler(granularity=0.0), []
    now = scheduler.now()
    scheduler.call_at(now + 0.02, lambda t: ran.append("second"))
    scheduler.call_at(now + 0.01, lambda t: ran.append("first"))
    scheduler.call_at(now + 0.015, lambda t: ran.append("cancelled")).cancel()
    await asyncio.sleep(0.05)
    scheduler.close()
    assert ["first", "second"] == ran


def test_a_write_only_the_primary_holds_is_not_majority_committed() -> None:
    """Of three voters, the primary is at 5 and both secondaries at 3: the majority point is 3, not 5."""
    primary, behind = OpTime(1, 5, 0), OpTime(1, 3, 0)
    assert OpTime(1, 3, 0) == majority_point([primary, behind, behind], 2)
    assert None is majority_point([primary], 2)


@given(st.lists(st.integers(0, 9), max_size=7), st.integers(1, 8))
def test_the_majority_point_is_the_newest_optime_enough_voters_hold(positions: list[int], needed: int) -> None:
    """For any voters' optimes: at least ``needed`` hold the point, and no newer optime is held by that many."""
    voting = [OpTime(1, p, 0) for p in positions]
    point = majority_point(voting, needed)
    if len(voting) < needed:
        assert point is None
        return
    assert point is not None
    assert sum(1 for o in voting if o >= point) >= needed
    assert all(sum(1 for o in voting if o >= newer) < needed for newer in voting if newer > point)


@given(st.lists(st.integers(0, 2), min_size=1, max_size=7))
def test_no_two_sides_of_a_partition_both_have_an_election_majority(sides: list[int]) -> None:
    """Voters split over three sides of a partition in any way: at most one side elects (or keeps) a
    primary, and all voters together always can."""
    parsed = parse_config(config(*[{}] * len(sides)), DEFAULTS, version_required=True)
    on_side = [sides.count(side) for side in range(3)]
    assert sum(1 for voters in on_side if parsed.is_majority(voters)) <= 1
    assert parsed.is_majority(len(sides))


def test_five_voters_need_three_votes_and_two_are_a_minority() -> None:
    assert ([1, 2, 2, 3, 3, 4, 4], 3) == ([majority_of(n) for n in range(1, 8)], majority_of(5))
    five = parse_config(config(*[{}] * 5), DEFAULTS, version_required=True)
    assert (False, True) == (five.is_majority(2), five.is_majority(3))
