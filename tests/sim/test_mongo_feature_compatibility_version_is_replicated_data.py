"""featureCompatibilityVersion is data, as in mongod: a document in ``admin.system.version`` the set starts with at
initiation, replicated and kept across restarts; a new binary runs with the FCV its data has, not its own release, and
a binary refuses to start on data whose FCV it cannot run. So a control plane that forgets to raise the FCV after an
upgrade is caught at the next one, as it would be by real members."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from pymongo.errors import OperationFailure

from fedstate_sim.mongo import FabricThread, MemberLaunch
from fedstate_sim.mongo.fabric import MemberStartRefused
from fedstate_sim.mongo.testing import SetHarness, fast_settings, wait_until

OCTET = 209


@pytest.fixture
def three() -> Iterator[SetHarness]:
    """A 6.0 set of three, one member per cluster."""
    with FabricThread(fast_settings()) as sim:
        harness = SetHarness(sim, "rs0", {"c1": 1, "c2": 1, "c3": 1}, OCTET).start()
        harness.initiate()
        harness.wait_until_healthy()
        yield harness
        harness.close()


def fcv(harness: SetHarness, launch: MemberLaunch) -> str:
    reply = harness.local(launch, {"getParameter": 1, "featureCompatibilityVersion": 1})
    return str(reply["featureCompatibilityVersion"]["version"])


def restart_with(harness: SetHarness, launch: MemberLaunch, image: str) -> MemberLaunch:
    """The member's pod again with another image, on the same volume."""
    harness.sim.stop_member(launch.host, launch.port)
    upgraded = dataclasses.replace(launch, image=image)
    harness.sim.start_member(upgraded)
    return upgraded


def test_the_set_starts_with_its_release_s_fcv_on_every_member(three: SetHarness) -> None:
    wait_until(lambda: all(fcv(three, m) == "6.0" for m in three.launches), what="6.0 everywhere")


def test_a_member_upgraded_to_7_0_keeps_the_set_s_fcv_until_it_is_raised_on_the_primary(three: SetHarness) -> None:
    """Binaries first, one at a time; the FCV stays 6.0 until ``setFeatureCompatibilityVersion`` (with ``confirm``
    from 7.0) on the primary, then every member has it."""
    upgraded = [restart_with(three, m, "mongo:7.0") for m in three.launches]
    primary = three.wait_until_healthy()
    assert {"6.0"} == {fcv(three, m) for m in upgraded}
    with pytest.raises(OperationFailure, match="confirm: true") as unconfirmed:
        three.local(primary, {"setFeatureCompatibilityVersion": "7.0"})
    assert 7369100 == unconfirmed.value.code
    secondary = next(m for m in upgraded if m.host != primary.host or m.port != primary.port)
    with pytest.raises(OperationFailure) as on_secondary:
        three.local(secondary, {"setFeatureCompatibilityVersion": "7.0", "confirm": True})
    assert 10107 == on_secondary.value.code  # NotWritablePrimary
    three.local(primary, {"setFeatureCompatibilityVersion": "7.0", "confirm": True})
    wait_until(lambda: all(fcv(three, m) == "7.0" for m in upgraded), what="7.0 replicated")


def test_a_binary_refuses_data_whose_fcv_it_cannot_run(three: SetHarness) -> None:
    """6.0 data (FCV 6.0) under an 8.0 binary, skipping 7.0 and its FCV raise: mongod exits at start."""
    member = three.launches[2]
    three.sim.stop_member(member.host, member.port)
    with pytest.raises(MemberStartRefused, match=r"UPGRADE PROBLEM.*version value '6\.0'; expected '7\.0' or '8\.0'"):
        three.sim.start_member(dataclasses.replace(member, image="mongo:8.0"))


def test_only_this_release_or_the_previous_one_may_be_set(three: SetHarness) -> None:
    primary = three.wait_until_healthy()
    with pytest.raises(OperationFailure, match=r"value '7\.0'; expected '5\.0' or '6\.0'") as too_new:
        three.local(primary, {"setFeatureCompatibilityVersion": "7.0"})
    assert 2 == too_new.value.code  # BadValue
    with pytest.raises(OperationFailure) as confirm_before_7:
        three.local(primary, {"setFeatureCompatibilityVersion": "6.0", "confirm": True})
    assert 40415 == confirm_before_7.value.code  # an unknown field before 7.0
