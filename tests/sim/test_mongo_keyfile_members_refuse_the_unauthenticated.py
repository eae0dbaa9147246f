"""A member started with a keyFile enforces access control as mongod does: the network gets only the
handshake class without authentication, the localhost exception lives inside the pod, and members
with another keyFile cannot join the set."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from pymongo.errors import OperationFailure

from fedstate_sim.mongo import FabricThread
from fedstate_sim.mongo.testing import SetHarness, address, fast_settings, initiate_document, wait_until

OCTET = 208
KEY = "a" * 64
OTHER_KEY = "b" * 64


@pytest.fixture
def sim() -> Iterator[FabricThread]:
    with FabricThread(fast_settings()) as thread:
        yield thread


@pytest.fixture
def keyed(sim: FabricThread) -> Iterator[SetHarness]:
    """Three started members sharing one keyFile, not initiated, no users."""
    harness = SetHarness(sim, "rs0", {"c1": 1, "c2": 1, "c3": 1}, OCTET, key_file=KEY).start()
    yield harness
    harness.close()


def refused_code(harness: SetHarness, command: str) -> tuple[int | None, str]:
    """Run ``command`` unauthenticated over the network; the error code and message it gets."""
    with pytest.raises(OperationFailure) as failure:
        harness.direct(harness.launches[1]).admin.command(command)
    return failure.value.code, str(failure.value).split(" (fedstate")[0].split(", full error")[0]


def test_before_initiation_the_network_gets_unauthorized(keyed: SetHarness, sim: FabricThread) -> None:
    """No users yet, not initiated: replSetGetStatus from the network is Unauthorized (13), named as mongod
    names it, and the refusal is kept for inspection."""
    assert (13, "command replSetGetStatus requires authentication") == refused_code(keyed, "replSetGetStatus")
    assert 13 == refused_code(keyed, "replSetInitiate")[0]
    refused = sim.inspect(lambda fabric: fabric.recorded_refusals())
    assert [("replSetGetStatus", False), ("replSetInitiate", False)] == [(r["command"], r["local"]) for r in refused]


def test_after_initiation_the_network_still_gets_unauthorized(keyed: SetHarness) -> None:
    """An initiated set without users answers the network Unauthorized too: only the pod's loopback may act."""
    keyed.initiate()
    keyed.wait_until_healthy()
    assert 13 == refused_code(keyed, "replSetGetConfig")[0]
    assert 13 == refused_code(keyed, "createUser")[0]


def test_the_handshake_class_needs_no_authentication(keyed: SetHarness) -> None:
    """hello, ping and buildInfo answer anyone: drivers need them before they authenticate."""
    client = keyed.direct(keyed.launches[0])
    assert [1.0, 1.0, 1.0] == [client.admin.command(c)["ok"] for c in ("hello", "ping", "buildInfo")]


def test_the_localhost_exception_closes_with_the_first_user(keyed: SetHarness) -> None:
    """Inside the pod the first user may be created; after it, the loopback is refused like the network."""
    keyed.initiate()
    primary = keyed.wait_until_healthy()
    keyed.local(primary, {"createUser": "root", "pwd": "pw", "roles": ["root"]})
    with pytest.raises(OperationFailure) as failure:
        keyed.local(primary, {"createUser": "second", "pwd": "pw", "roles": ["root"]})
    assert 13 == failure.value.code


def test_a_member_with_another_keyfile_fails_the_initiate_quorum_check(sim: FabricThread) -> None:
    """replSetInitiate naming a member whose keyFile differs fails: internal authentication is refused."""
    harness = SetHarness(sim, "rs1", {"c1": 1, "c2": 1, "c3": 1}, OCTET, key_file=KEY)
    stranger = dataclasses.replace(harness.launches[2], key_file=OTHER_KEY)
    harness.launches[2] = stranger
    harness.start()
    with pytest.raises(OperationFailure) as failure:
        harness.initiate()
    assert 74 == failure.value.code
    assert f"{address(stranger)} failed with Authentication failed." in str(failure.value)
    harness.close()


def test_a_member_restarted_with_another_keyfile_is_cut_off(keyed: SetHarness, sim: FabricThread) -> None:
    """The set keeps a member whose keyFile changed in its config, but heartbeats to it fail authentication."""
    keyed.initiate()
    primary = keyed.wait_until_healthy()
    changed = next(launch for launch in keyed.launches if launch != primary)
    sim.stop_member(changed.host, changed.port)
    sim.start_member(dataclasses.replace(changed, key_file=OTHER_KEY))

    def heartbeat_message() -> str | None:
        status = keyed.local(primary, {"replSetGetStatus": 1})
        seen = next(m for m in status["members"] if m["name"] == address(changed))
        return seen["lastHeartbeatMessage"] if seen["health"] == 0 else None

    assert "Authentication failed." == wait_until(heartbeat_message, what="the changed member to be cut off")


def test_a_member_without_access_control_serves_everyone(sim: FabricThread) -> None:
    """Without --keyFile or --auth mongod enforces nothing: the network may initiate."""
    harness = SetHarness(sim, "rs2", {"c1": 1}, OCTET)
    harness.start()
    document = initiate_document("rs2", harness.launches)
    assert 1.0 == harness.direct(harness.launches[0]).admin.command("replSetInitiate", document)["ok"]
    harness.close()
