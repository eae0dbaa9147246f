"""An idle primary writes a no-op every ``periodicNoopIntervalSecs``, as mongod does: its secondaries' optimes
keep moving, so an idle set's replication lag stays what it is (near zero), not the time since the last write."""

from __future__ import annotations

import time
from typing import Any

from fedstate_sim.mongo import FabricThread
from fedstate_sim.mongo.services import FabricTuning
from fedstate_sim.mongo.testing import SetHarness, fast_settings, healthy_set, wait_until

OCTET = 233
NOOP_MILLIS = 300


def optimes(status: dict[str, Any]) -> dict[str, float]:
    return {m["name"]: m["optimeDate"].timestamp() for m in status["members"]}


def test_an_idle_set_s_optimes_keep_moving() -> None:
    with (
        FabricThread(fast_settings(), FabricTuning(periodic_noop_millis=NOOP_MILLIS)) as sim,
        healthy_set(sim, "rs0", {"c1": 1, "c2": 1, "c3": 1}, OCTET) as idle,
    ):
        check_optimes_move(idle)


def check_optimes_move(idle: SetHarness) -> None:
    primary = idle.direct(idle.wait_for_primary())
    before = optimes(primary.admin.command("replSetGetStatus"))
    time.sleep(1.2)  # four no-op intervals

    def moved() -> bool:
        now = optimes(primary.admin.command("replSetGetStatus"))
        return all(now[name] > before[name] for name in before)

    wait_until(moved, what="every member's optime to move on an idle set")
