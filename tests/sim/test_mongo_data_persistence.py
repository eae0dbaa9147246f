"""Member data lives on its volume (data_key): restarts keep it, deleting the volume empties it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pymongo import WriteConcern

from fedstate_sim.mongo import FabricThread
from fedstate_sim.mongo.testing import SetHarness, address, fast_settings, wait_until

OCTET = 205


@pytest.fixture
def sim() -> Iterator[FabricThread]:
    # Not the 400 ms of fast_settings: a primary cut off must still be primary for the write that follows the cut,
    # and a loaded CI machine stalled the simulator's thread that long between the two lines.
    with FabricThread(fast_settings(election_timeout_millis=1500)) as thread:
        yield thread


@pytest.fixture
def three(sim: FabricThread) -> Iterator[SetHarness]:
    harness = SetHarness(sim, "rs0", {"c1": 1, "c2": 1, "c3": 1}, OCTET).start()
    harness.initiate()
    harness.wait_until_healthy()
    yield harness
    harness.close()


def test_a_restarted_member_keeps_its_data_and_rejoins(three: SetHarness) -> None:
    """stop_member then start_member with the same data_key: same documents, back as SECONDARY."""
    items = three.client().app.get_collection("items", write_concern=WriteConcern("majority"))
    items.insert_many([{"_id": n} for n in range(10)])
    primary = three.wait_for_primary()
    secondary = next(launch for launch in three.launches if launch != primary)
    three.sim.stop_member(secondary.host, secondary.port)
    items.insert_one({"_id": "while-down"})
    three.sim.start_member(secondary)
    three.wait_for_states({address(secondary): "SECONDARY"}, via=primary)
    reader = three.direct(secondary, readPreference="secondaryPreferred").app.items
    wait_until(lambda: reader.count_documents({}) == 11, what="the restarted member to catch up")


def test_a_restarted_primary_comes_back_as_secondary(three: SetHarness) -> None:
    old = three.wait_for_primary()
    three.sim.stop_member(old.host, old.port)
    new = three.wait_for_primary(excluding=address(old))
    three.sim.start_member(old)
    three.wait_for_states({address(old): "SECONDARY", address(new): "PRIMARY"}, via=new)


def test_a_member_whose_volume_was_deleted_resyncs_from_the_set(three: SetHarness) -> None:
    """After forget_data the member starts empty, is sent the config by heartbeat and initial-syncs."""
    three.client().app.items.insert_one({"_id": 1})
    primary = three.wait_for_primary()
    launch = next(launch for launch in three.launches if launch != primary)
    three.sim.stop_member(launch.host, launch.port)
    three.sim.forget_data(launch.data_key)
    assert not three.sim.inspect(lambda fabric: launch.data_key in fabric.services.store)
    three.sim.start_member(launch)
    three.wait_for_states({address(launch): "SECONDARY"}, via=primary)
    reader = three.direct(launch, readPreference="secondaryPreferred").app.items
    wait_until(lambda: reader.find_one({"_id": 1}), what="the resynced document")


def test_writes_of_a_partitioned_primary_are_rolled_back_and_recorded(three: SetHarness) -> None:
    """w:1 writes taken by a primary cut off from the majority are rolled back when it rejoins."""
    old = three.wait_for_primary()
    three.sim.partition({old.cluster}, {"c1", "c2", "c3"} - {old.cluster})
    three.direct(old).app.get_collection("items", write_concern=WriteConcern(w=1)).insert_one({"_id": "doomed"})
    three.wait_for_primary(timeout=5, excluding=address(old))
    three.sim.heal()
    wait_until(lambda: three.sim.inspect(lambda fabric: fabric.rollbacks), what="a rollback record")
    records = three.sim.inspect(lambda fabric: list(fabric.rollbacks))
    rolled_back = {(r.member, r.set_name, doc["o"]["_id"]) for r in records for doc in r.documents}
    assert (address(old), "rs0", "doomed") in rolled_back
    assert {"doomed"} == {doc_id for _, _, doc_id in rolled_back}
