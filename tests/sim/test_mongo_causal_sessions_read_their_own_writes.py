"""Causal consistency, as mongod serves it: a replica-set member's replies carry ``operationTime`` and
``$clusterTime``, so pymongo's causally consistent sessions send ``afterClusterTime``; a read with one waits until
the member holds an entry that late (a lagging secondary catches up first), refuses a time ahead of the cluster
time, and gives up at ``maxTimeMS``. Secondaries here copy entries only once they are 2 s old."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from bson import Timestamp
from pymongo import ReadPreference, WriteConcern
from pymongo.errors import OperationFailure

from fedstate_sim.mongo import FabricThread
from fedstate_sim.mongo.testing import SetHarness, direct_client, fast_settings, plan_members

OCTET = 216
LAG_MILLIS = 2_000


@pytest.fixture
def sim() -> Iterator[FabricThread]:
    settings = fast_settings().model_copy(update={"replication_lag_millis": LAG_MILLIS})
    with FabricThread(settings) as thread:
        yield thread


@pytest.fixture
def lagging(sim: FabricThread) -> Iterator[SetHarness]:
    """Three members, one per cluster, whose secondaries run 2 s behind the primary."""
    harness = SetHarness(sim, "rs0", {"c1": 1, "c2": 1, "c3": 1}, OCTET).start()
    harness.initiate()
    harness.wait_until_healthy()
    yield harness
    harness.close()


def items(harness: SetHarness, **options: Any) -> Any:
    return harness.client(**options).app.get_collection("items", write_concern=WriteConcern(w=1))


def test_a_causally_consistent_session_reads_its_own_write_on_a_lagging_secondary(lagging: SetHarness) -> None:
    collection = items(lagging, readPreference="secondary")
    with collection.database.client.start_session(causal_consistency=True) as session:
        collection.insert_one({"_id": "mine"}, session=session)
        assert {"_id": "mine"} == collection.find_one({"_id": "mine"}, session=session)
    # Without the session's afterClusterTime, a secondary answers with what it has: not yet the new write.
    collection.insert_one({"_id": "not yet"})
    assert collection.find_one({"_id": "not yet"}) is None


def test_replies_of_a_set_member_carry_the_operation_and_cluster_times(lagging: SetHarness, sim: FabricThread) -> None:
    primary = lagging.direct(lagging.wait_for_primary())
    before = primary.admin.command("ping")
    wrote = primary.app.command("insert", "items", documents=[{"_id": 1}], writeConcern={"w": 1})
    assert isinstance(before["operationTime"], Timestamp)
    assert wrote["operationTime"] > before["operationTime"]
    assert wrote["$clusterTime"]["clusterTime"] >= wrote["operationTime"]
    # A member not in a set yet has no cluster time to tell.
    [alone] = plan_members("rs9", {"c1": 1}, OCTET)
    sim.start_member(alone)
    reply = direct_client(alone).admin.command("ping")
    assert "operationTime" not in reply and "$clusterTime" not in reply


def test_an_after_cluster_time_ahead_of_the_cluster_time_is_refused(lagging: SetHarness) -> None:
    primary = lagging.direct(lagging.wait_for_primary())
    now = primary.admin.command("ping")["$clusterTime"]["clusterTime"]
    ahead = Timestamp(now.time + 3600, 1)
    with pytest.raises(OperationFailure) as refused:
        primary.app.command("find", "items", readConcern={"afterClusterTime": ahead})
    assert 72 == refused.value.code  # InvalidOptions


def test_a_wait_for_a_cluster_time_gives_up_at_max_time_ms(lagging: SetHarness) -> None:
    client = lagging.client()
    wrote = client.app.command("insert", "items", documents=[{"_id": 1}], writeConcern={"w": 1})
    with pytest.raises(OperationFailure) as expired:
        client.app.command(
            "find",
            "items",
            readConcern={"afterClusterTime": wrote["operationTime"]},
            maxTimeMS=200,
            read_preference=ReadPreference.SECONDARY,
        )
    assert 50 == expired.value.code  # MaxTimeMSExpired: the secondaries are 2 s behind
