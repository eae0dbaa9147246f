"""A simulated member speaks the MongoDB wire protocol well enough for unmodified pymongo."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

import bson
import pytest
from pymongo.errors import ConfigurationError, NotPrimaryError, OperationFailure

from fedstate_sim.config import SIMULATOR_BANNER
from fedstate_sim.mongo import FabricThread, MemberLaunch
from fedstate_sim.mongo.testing import (
    RawConnection,
    SetHarness,
    direct_client,
    error_code,
    fast_settings,
    free_port,
    plan_members,
)
from fedstate_sim.mongo.wire import FLAG_EXHAUST_ALLOWED, FLAG_MORE_TO_COME, OP_MSG, OP_QUERY, OP_REPLY

OCTET = 201


@pytest.fixture
def sim() -> Iterator[FabricThread]:
    with FabricThread(fast_settings()) as thread:
        yield thread


@pytest.fixture
def member(sim: FabricThread) -> MemberLaunch:
    launch = plan_members("rs0", {"c1": 1}, OCTET)[0]
    sim.start_member(launch)
    return launch


def test_ping_and_hello_through_a_direct_connection(member: MemberLaunch) -> None:
    """pymongo with directConnection=true completes its handshake, pings, and reads hello."""
    client = direct_client(member)
    assert {"ok": 1.0} == client.admin.command("ping")
    hello = client.admin.command("hello")
    assert (False, False, True) == (hello["isWritablePrimary"], hello["secondary"], hello["isreplicaset"])
    assert "setName" not in hello
    assert hello["maxWireVersion"] >= 9 and hello["minWireVersion"] == 0
    assert SIMULATOR_BANNER == hello["fedstateSimulator"]
    assert isinstance(hello["topologyVersion"]["processId"], bson.ObjectId)
    client.close()


def test_build_info_reports_the_image_version(sim: FabricThread) -> None:
    """mongo:7.0.4 reports version 7.0.4; the reply says it is a simulator."""
    launch = MemberLaunch("c1", f"127.0.{OCTET}.2", free_port(f"127.0.{OCTET}.2"), "rs0", "c1/v", "ns/p", "mongo:7.0.4")
    sim.start_member(launch)
    info = direct_client(launch).admin.command("buildInfo")
    assert ("7.0.4", [7, 0, 4, 0]) == (info["version"], info["versionArray"])
    assert "simulator" in info["fedstateSimulator"]


def test_a_release_before_4_4_is_refused_by_pymongo_and_lacks_what_came_later(sim: FabricThread) -> None:
    """mongo:3.6 reports its own wire version (6), which pymongo refuses as it refuses a real 3.6; on the wire
    its hello has no topologyVersion (4.4) and no saslSupportedMechs (4.0), and SCRAM-SHA-256 (4.0) is refused."""
    host = f"127.0.{OCTET}.3"
    old = MemberLaunch("c1", host, free_port(host), "rs0", "c1/old", "ns/old", "mongo:3.6")
    sim.start_member(old)
    with pytest.raises(
        ConfigurationError, match=r"reports wire version 6, but this version of PyMongo requires at least 9"
    ):
        direct_client(old, serverSelectionTimeoutMS=1000).admin.command("ping")
    raw = RawConnection(old)
    hello = raw.command({"hello": 1, "saslSupportedMechs": "admin.root", "$db": "admin"})
    assert (6, False, False) == (hello["maxWireVersion"], "topologyVersion" in hello, "saslSupportedMechs" in hello)
    start = raw.command({"saslStart": 1, "mechanism": "SCRAM-SHA-256", "payload": b"n,,n=root,r=abc", "$db": "admin"})
    assert (0.0, 334) == (start["ok"], start["code"])  # MechanismUnavailable
    raw.close()


def test_unknown_commands_fail_with_a_simulator_message(member: MemberLaunch) -> None:
    """Errors carry MongoDB's code and say they come from the simulator."""
    with pytest.raises(OperationFailure) as failure:
        direct_client(member).admin.command("frobnicate")
    assert 59 == failure.value.code
    assert str(failure.value).startswith("no such command: 'frobnicate' (fedstate simulator)")


def test_writes_before_initiation_are_refused_as_not_primary(member: MemberLaunch) -> None:
    """An uninitiated member is not writable (NotWritablePrimary, 10107)."""
    with pytest.raises(NotPrimaryError) as failure:
        direct_client(member).admin.command("createUser", "root", pwd="x", roles=["root"])
    assert 10107 == error_code(failure.value)


def test_a_not_primary_error_carries_the_topology_version_so_pymongo_goes_on_at_once(member: MemberLaunch) -> None:
    """Since 4.4 mongod answers a state-change error with its topologyVersion. pymongo then sees that the error
    tells nothing its monitor has not (the same version) and keeps the member selectable: the next command runs at
    once. Without it pymongo marks the member Unknown and waits for its monitor, whose awaitable hello returns only
    when the topology changes or after heartbeatFrequencyMS (10 s): the next command times out."""
    client = direct_client(member, serverSelectionTimeoutMS=2000)
    hello = client.admin.command("hello")
    with pytest.raises(NotPrimaryError) as failure:
        client.admin.command("createUser", "root", pwd="x", roles=["root"])
    details: Any = failure.value.details or {}
    assert hello["topologyVersion"] == details.get("topologyVersion")
    assert 1.0 == client.admin.command("ping")["ok"]


def test_legacy_op_query_handshake_gets_an_op_reply(member: MemberLaunch) -> None:
    """Older clients open with OP_QUERY isMaster on admin.$cmd and get OP_REPLY."""
    query = bson.encode({"isMaster": 1})
    body = struct.pack("<i", 0) + b"admin.$cmd\x00" + struct.pack("<ii", 0, -1) + query
    raw = RawConnection(member)
    raw.sock.sendall(struct.pack("<iiii", 16 + len(body), 7, 0, OP_QUERY) + body)
    length, _, response_to, op_code = struct.unpack("<iiii", raw._read(16))
    reply = bson.decode(raw._read(length - 16)[20:])
    raw.close()
    assert (OP_REPLY, 7) == (op_code, response_to)
    assert (1.0, True) == (reply["ok"], reply["isreplicaset"])


def test_an_awaitable_hello_with_exhaust_streams_topology_changes(sim: FabricThread) -> None:
    """hello + topologyVersion + exhaustAllowed: replies flagged moreToCome, a new one on each change."""
    launch = plan_members("solo", {"c1": 1}, OCTET)[0]
    sim.start_member(launch)
    raw = RawConnection(launch)
    version = raw.command({"hello": 1, "$db": "admin"})["topologyVersion"]
    request = {"hello": 1, "topologyVersion": version, "maxAwaitTimeMS": 5000, "$db": "admin"}
    request_id = raw.send(request, flags=FLAG_EXHAUST_ALLOWED)
    direct_client(launch).admin.command("replSetInitiate", {})
    response_to, flags, first = raw.receive()
    assert (request_id, FLAG_MORE_TO_COME) == (response_to, flags & FLAG_MORE_TO_COME)
    assert first["topologyVersion"]["counter"] > version["counter"]
    _, flags, second = raw.receive()  # the member becomes PRIMARY: another reply, unrequested
    assert flags & FLAG_MORE_TO_COME
    assert second["topologyVersion"]["counter"] > first["topologyVersion"]["counter"]
    raw.close()


def test_reads_on_a_secondary_need_secondary_ok(sim: FabricThread) -> None:
    """A find without $readPreference on a secondary is NotPrimaryNoSecondaryOk (13435)."""
    harness = SetHarness(sim, "rs0", {"c1": 1, "c2": 1}, OCTET).start()
    harness.initiate(m1={"priority": 0})
    harness.wait_until_healthy()
    raw = RawConnection(harness.launches[1])
    refused = raw.command({"find": "items", "$db": "app"})
    allowed = raw.command({"find": "items", "$db": "app", "$readPreference": {"mode": "secondaryPreferred"}})
    raw.close()
    harness.close()
    assert (0.0, 13435, "NotPrimaryNoSecondaryOk") == (refused["ok"], refused["code"], refused["codeName"])
    assert 1.0 == allowed["ok"]


def _send_op_msg(raw: RawConnection, body: bytes, request_id: int, flags: int = 0) -> None:
    raw.sock.sendall(struct.pack("<iiii", 16 + 4 + len(body), request_id, 0, OP_MSG) + struct.pack("<I", flags) + body)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"\x00" + b"\x10\x00\x00\x00\x02ping\x00\xff\xff\xff\x7fx\x00", 22),  # BSON string longer than its doc
        (b"\x07" + bson.encode({"ping": 1}), 40432),  # unknown section kind
        (b"\x00" + bson.encode({"ping": 1}) + b"\x00" + bson.encode({"ping": 1}), 40430),  # two bodies
        (b"", 40587),  # no body at all
        (b"\x00" + b"\xff\xff\xff\x7f", 22),  # a body whose size runs past the message
    ],
    ids=["bad-bson", "unknown-section-kind", "two-bodies", "no-body", "oversized-body"],
)
def test_a_malformed_op_msg_gets_mongods_error_and_the_connection_stays_usable(
    member: MemberLaunch, body: bytes, code: int
) -> None:
    """mongod's OpMsg::parse answers bad BSON (22), an unknown section kind (40432), two bodies (40430) or none
    (40587) with ok: 0 to that request; the same connection then serves the next command."""
    raw = RawConnection(member)
    _send_op_msg(raw, body, request_id=41)
    response_to, _, reply = raw.receive()
    assert (41, 0.0, code) == (response_to, reply["ok"], reply["code"])
    assert 1.0 == raw.command({"ping": 1, "$db": "admin"})["ok"]
    raw.close()


def test_an_op_msg_with_an_unknown_required_flag_closes_only_that_connection(member: MemberLaunch) -> None:
    """mongod treats unknown required flag bits (the low 16) as fatal to the connection, not to the server."""
    raw = RawConnection(member)
    _send_op_msg(raw, b"\x00" + bson.encode({"ping": 1, "$db": "admin"}), request_id=5, flags=1 << 4)
    with pytest.raises(ConnectionError):
        raw.receive()
    raw.close()
    with direct_client(member) as client:
        assert 1.0 == client.admin.command("ping")["ok"]
