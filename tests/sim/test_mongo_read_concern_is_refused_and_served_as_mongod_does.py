"""readConcern is refused and served as mongod refuses and serves it: a level, field or type mongod does not
accept is an error naming it, and a linearizable read is served by a primary only, confirmed by a majority
within maxTimeMS (``fedstate_sim.mongo.commands.readconcern``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from bson import Timestamp
from pymongo import WriteConcern
from pymongo.errors import NotPrimaryError, OperationFailure

from fedstate_sim.mongo import FabricThread
from fedstate_sim.mongo.testing import SetHarness, error_code, fast_settings

OCTET = 214


@pytest.fixture(scope="module")
def sim() -> Iterator[FabricThread]:
    with FabricThread(fast_settings(election_timeout_millis=1000)) as thread:
        yield thread


@pytest.fixture(scope="module")
def three(sim: FabricThread) -> Iterator[SetHarness]:
    harness = SetHarness(sim, "rsrc", {"c1": 1, "c2": 1, "c3": 1}, OCTET).start()
    harness.initiate()
    harness.wait_until_healthy()
    harness.client().app.get_collection("items", write_concern=WriteConcern("majority")).insert_one({"_id": 1})
    yield harness
    harness.close()


def find(harness: SetHarness, concern: Any, **options: Any) -> Any:
    primary = harness.wait_for_primary()
    return harness.direct(primary).app.command("find", "items", readConcern=concern, **options)


@pytest.mark.parametrize(
    ("concern", "code", "says"),
    [
        ({"level": "bogus"}, 9, "readConcern.level must be either 'local', 'majority', 'linearizable', 'available'"),
        ("majority", 9, "readConcern field should be an object"),
        ({"level": 1}, 14, '"level" had the wrong type. Expected string, found int'),
        ({"levle": "majority"}, 72, "Unrecognized option in readConcern: levle"),
        ({"level": "local", "atClusterTime": Timestamp(1, 1)}, 72, "atClusterTime field can be set only if level"),
        ({"level": "linearizable", "afterClusterTime": Timestamp(1, 1)}, 72, "afterClusterTime field can be set"),
        ({"afterClusterTime": 5}, 14, '"afterClusterTime" had the wrong type. Expected timestamp, found int'),
    ],
)
def test_a_read_concern_mongod_does_not_accept_is_refused_naming_what_is_wrong(
    three: SetHarness, concern: Any, code: int, says: str
) -> None:
    with pytest.raises(OperationFailure) as refused:
        find(three, concern)
    assert code == refused.value.code
    assert says in str(refused.value)


@pytest.mark.parametrize("level", ["local", "available", "majority", "linearizable", "snapshot"])
def test_each_level_mongod_knows_reads_the_document(three: SetHarness, level: str) -> None:
    reply = find(three, {"level": level}, maxTimeMS=5000)
    assert [{"_id": 1}] == reply["cursor"]["firstBatch"]


def test_a_linearizable_read_is_served_by_a_primary_only(three: SetHarness) -> None:
    primary = three.wait_for_primary()
    secondary = next(launch for launch in three.launches if launch != primary)
    reader = three.direct(secondary, readPreference="secondaryPreferred").app
    assert [{"_id": 1}] == reader.command("find", "items", readConcern={"level": "local"})["cursor"]["firstBatch"]
    with pytest.raises(NotPrimaryError) as refused:
        reader.command("find", "items", readConcern={"level": "linearizable"})
    assert 10107 == error_code(refused.value)
    assert "cannot satisfy linearizable read concern on non-primary node" in str(refused.value)


def test_a_linearizable_read_on_a_primary_cut_off_from_its_majority_is_not_confirmed(sim: FabricThread) -> None:
    """The primary still answers a local read from what it holds; a linearizable read of the same document
    waits for a majority to acknowledge the no-op after it, and fails with LinearizableReadConcernError (147)
    when maxTimeMS runs out, as mongod's does. With the majority back, it is served."""
    harness = SetHarness(sim, "rscut", {"c1": 1, "c2": 1, "c3": 1}, OCTET + 1).start()
    try:
        harness.initiate()
        primary = harness.wait_until_healthy()
        harness.client().app.get_collection("items", write_concern=WriteConcern("majority")).insert_one({"_id": 2})
        app = harness.direct(primary).app
        cut_off = {"c1", "c2", "c3"} - {primary.cluster}
        for cluster in cut_off:
            sim.set_cluster_down(cluster, True)
        assert [{"_id": 2}] == app.command("find", "items", readConcern={"level": "local"})["cursor"]["firstBatch"]
        with pytest.raises(OperationFailure) as unconfirmed:
            app.command("find", "items", readConcern={"level": "linearizable"}, maxTimeMS=300)
        assert 147 == unconfirmed.value.code
        assert "Failed to confirm that read was linearizable." in str(unconfirmed.value)
        for cluster in cut_off:
            sim.set_cluster_down(cluster, False)
        back = harness.direct(harness.wait_until_healthy()).app
        reply = back.command("find", "items", readConcern={"level": "linearizable"}, maxTimeMS=5000)
        assert [{"_id": 2}] == reply["cursor"]["firstBatch"]
    finally:
        harness.close()
