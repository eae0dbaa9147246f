"""The journal, as mongod's: an acknowledged w:1 write its member had not flushed is lost when that member stops
uncleanly (SIGKILL, a lost node); a write that asked for ``j``, a majority write, a clean shutdown and the periodic
flusher (``storage.journal.commitIntervalMs``) each make what came before durable. The majority commit point counts
durable optimes (``writeConcernMajorityJournalDefault``), so a majority read never shows what a crash can take back.

A single-member set keeps the writes where the test puts them: no secondary holds a copy."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import MongoClient, WriteConcern
from pymongo.read_concern import ReadConcern

from fedstate_sim.mongo import FabricThread
from fedstate_sim.mongo.testing import SetHarness, fast_settings

OCTET = 215
NEVER_MILLIS = 3_600_000  # the periodic flusher does not run during a test
SOON_MILLIS = 20


def lone_member(interval_millis: int) -> Iterator[SetHarness]:
    settings = fast_settings().model_copy(update={"journal_commit_interval_millis": interval_millis})
    with FabricThread(settings) as sim:
        harness = SetHarness(sim, "rs0", {"c1": 1}, OCTET).start()
        harness.initiate()
        harness.wait_until_healthy()
        yield harness
        harness.close()


@pytest.fixture
def unflushed() -> Iterator[SetHarness]:
    yield from lone_member(NEVER_MILLIS)


@pytest.fixture
def flushed_soon() -> Iterator[SetHarness]:
    yield from lone_member(SOON_MILLIS)


def items(harness: SetHarness, **concern: Any) -> Any:
    return harness.direct(harness.launches[0]).app.get_collection("items", write_concern=WriteConcern(**concern))


def restart(harness: SetHarness, clean: bool = False) -> MongoClient[dict[str, Any]]:
    launch = harness.launches[0]
    harness.sim.stop_member(launch.host, launch.port, clean=clean)
    harness.sim.start_member(launch)
    harness.wait_until_healthy()
    return harness.direct(launch)


def ids_after_restart(harness: SetHarness, clean: bool = False) -> set[Any]:
    return {doc["_id"] for doc in restart(harness, clean).app.items.find()}


def optimes(client: MongoClient[dict[str, Any]]) -> tuple[tuple[int, Any], tuple[int, Any]]:
    """(applied, durable) optimes of the member, each in optime order (term, then timestamp)."""
    found = client.admin.command("replSetGetStatus")["optimes"]

    def ordered(name: str) -> tuple[int, Any]:
        return found[name]["t"], found[name]["ts"]

    return ordered("appliedOpTime"), ordered("durableOpTime")


def test_an_acknowledged_w1_write_not_yet_journaled_is_lost_when_its_member_is_killed(unflushed: SetHarness) -> None:
    items(unflushed, w="majority").insert_one({"_id": "kept"})
    items(unflushed, w=1).insert_one({"_id": "acknowledged, then lost"})
    assert {"kept"} == ids_after_restart(unflushed)


@pytest.mark.parametrize("concern", [{"w": 1, "j": True}, {"w": "majority"}])
def test_a_write_that_asks_for_the_journal_survives_a_kill_with_everything_before_it(
    unflushed: SetHarness, concern: dict[str, Any]
) -> None:
    items(unflushed, w=1).insert_one({"_id": "before"})
    items(unflushed, **concern).insert_one({"_id": "journaled"})
    assert {"before", "journaled"} == ids_after_restart(unflushed)


def test_a_clean_shutdown_loses_nothing(unflushed: SetHarness) -> None:
    items(unflushed, w=1).insert_one({"_id": "w1"})
    assert {"w1"} == ids_after_restart(unflushed, clean=True)


def test_the_periodic_flusher_makes_a_w1_write_durable_within_its_interval(flushed_soon: SetHarness) -> None:
    items(flushed_soon, w=1).insert_one({"_id": "w1"})
    time.sleep(10 * SOON_MILLIS / 1000)
    assert {"w1"} == ids_after_restart(flushed_soon)


def test_a_majority_read_does_not_show_a_write_the_journal_lacks(unflushed: SetHarness) -> None:
    """A lone member's commit point is its durable optime: what a kill could take back is not majority-committed,
    and replSetGetStatus shows the durable optime behind the applied one until a flush."""
    client = unflushed.direct(unflushed.launches[0])
    items(unflushed, w=1).insert_one({"_id": "w1"})
    time.sleep(0.3)  # replication rounds (every 5 ms after a write, and each heartbeat) have had their chance
    majority = client.app.get_collection("items", read_concern=ReadConcern("majority"))
    assert majority.find_one({"_id": "w1"}) is None
    applied, durable = optimes(client)
    assert durable < applied

    items(unflushed, w=1, j=True).insert_one({"_id": "journaled"})
    assert optimes(client)[1] == optimes(client)[0]
