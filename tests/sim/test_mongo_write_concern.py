"""Write concerns behave as in mongod: w:1 at once, w:majority/w:N after replication, wtimeout reported."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pymongo import WriteConcern
from pymongo.errors import WriteConcernError, WTimeoutError
from pymongo.read_concern import ReadConcern

from fedstate_sim.mongo import FabricThread
from fedstate_sim.mongo.testing import SetHarness, fast_settings

OCTET = 206


@pytest.fixture
def three(sim: FabricThread) -> Iterator[SetHarness]:
    harness = SetHarness(sim, "rs0", {"c1": 1, "c2": 1, "c3": 1}, OCTET).start()
    harness.initiate()
    harness.wait_until_healthy()
    yield harness
    harness.close()


@pytest.fixture
def sim() -> Iterator[FabricThread]:
    with FabricThread(fast_settings(election_timeout_millis=1000)) as thread:
        yield thread


def _items(harness: SetHarness, concern: WriteConcern):  # type: ignore[no-untyped-def]
    return harness.client().app.get_collection("items", write_concern=concern)


def test_w_all_members_is_acknowledged_once_every_member_has_the_write(three: SetHarness) -> None:
    _items(three, WriteConcern(w=3, wtimeout=2000)).insert_one({"_id": 1})
    for launch in three.launches:
        reader = three.direct(launch).app.items
        assert {"_id": 1} == reader.find_one({"_id": 1})


def test_majority_times_out_without_a_majority(three: SetHarness) -> None:
    """Both secondaries gone: w:majority with wtimeout fails with WriteConcernFailed (64), wtimeout: true."""
    primary = three.wait_for_primary()
    for cluster in {"c1", "c2", "c3"} - {primary.cluster}:
        three.sim.set_cluster_down(cluster, True)
    items = three.direct(primary).app.get_collection("items", write_concern=WriteConcern("majority", wtimeout=300))
    with pytest.raises(WTimeoutError) as failure:
        items.insert_one({"_id": "unreplicated"})
    assert 64 == failure.value.code
    assert failure.value.details is not None and failure.value.details["errInfo"]["wtimeout"] is True


def test_a_majority_write_only_the_primary_holds_is_not_acknowledged(sim: FabricThread) -> None:
    """Both secondaries answer heartbeats but apply writes an hour late (secondaryDelaySecs): a w:majority
    write reaches the primary alone and fails with WriteConcernFailed, wtimeout: true; w:1 is acknowledged."""
    harness = SetHarness(sim, "rsdelayed", {"c1": 1, "c2": 1, "c3": 1}, OCTET).start()
    delayed = {"priority": 0, "hidden": True, "secondaryDelaySecs": 3600}
    harness.initiate(m1=delayed, m2=delayed)
    primary = harness.wait_until_healthy()
    database = harness.direct(primary).app
    database.get_collection("items", write_concern=WriteConcern(w=1)).insert_one({"_id": "primary-only"})
    items = database.get_collection("items", write_concern=WriteConcern("majority", wtimeout=300))
    with pytest.raises(WTimeoutError) as failure:
        items.insert_one({"_id": "unreplicated"})
    assert 64 == failure.value.code
    assert {"_id": "unreplicated"} == database.items.find_one({"_id": "unreplicated"})
    harness.close()


def test_more_members_than_exist_is_unsatisfiable(three: SetHarness) -> None:
    with pytest.raises(WriteConcernError) as failure:
        _items(three, WriteConcern(w=4)).insert_one({"_id": 2})
    assert 100 == failure.value.code


def test_retried_writes_are_applied_once(three: SetHarness) -> None:
    """The same retryable insert sent twice (same lsid and txnNumber) inserts one document, reports n=1."""
    client = three.client()
    with client.start_session() as session:
        command = {"insert": "items", "documents": [{"_id": "once"}], "lsid": session.session_id, "txnNumber": 7}
        first = client.app.command(command)
        again = client.app.command(command)
    assert (1, 1) == (first["n"], again["n"])
    assert 1 == client.app.items.count_documents({"_id": "once"})


def test_a_majority_read_does_not_see_a_write_only_the_primary_holds(sim: FabricThread) -> None:
    """Secondaries an hour late: readConcern "majority" on the primary misses a w:1 write a local read sees."""
    harness = SetHarness(sim, "rsreads", {"c1": 1, "c2": 1, "c3": 1}, OCTET).start()
    delayed = {"priority": 0, "hidden": True, "secondaryDelaySecs": 3600}
    harness.initiate(m1=delayed, m2=delayed)
    primary = harness.wait_until_healthy()
    database = harness.direct(primary).app
    database.get_collection("items", write_concern=WriteConcern(w=1)).insert_one({"_id": "primary-only"})
    majority = database.get_collection("items", read_concern=ReadConcern("majority"))
    assert majority.find_one({"_id": "primary-only"}) is None
    assert 0 == majority.count_documents({})
    assert {"_id": "primary-only"} == database.items.find_one({"_id": "primary-only"})
    harness.close()
