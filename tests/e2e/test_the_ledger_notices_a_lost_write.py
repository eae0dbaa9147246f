"""The durability ledger the chaos and failover tests rely on can fail: a write it saw acknowledged and that is
gone from the set is reported missing (checked against a simulated set directly, without a stack)."""

from __future__ import annotations

from fedstate_sim.mongo import FabricThread
from fedstate_sim.mongo.testing import fast_settings, healthy_set, seed_list, wait_until

from .ledger import writing

OCTET = 241


def test_a_write_removed_behind_the_ledgers_back_is_missing() -> None:
    with (
        FabricThread(fast_settings()) as sim,
        healthy_set(sim, "rs0", {"c1": 1, "c2": 1, "c3": 1}, OCTET) as members,
    ):
        uri = f"mongodb://{seed_list(members.launches)}/?replicaSet=rs0"
        with writing("kept", lambda: uri) as writer:
            wait_until(lambda: len(writer.acknowledged) >= 10, what="ten acknowledged writes")
        assert [] == writer.missing()
        lost = writer.acknowledged[3]
        members.client().ledger.entries.delete_one({"_id": lost})
        assert [lost] == writer.missing()
