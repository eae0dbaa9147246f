"""Helpers for tests and benchmarks that drive simulated members directly (without the Kubernetes side).

``plan_members`` lays members out over clusters on loopback VIPs
(127.0.<octet>.<cluster index>) with free ports; ``initiate_document`` builds the
replSetInitiate config for them; ``wait_until`` polls a condition;
``SetHarness`` wraps one replica set on a ``FabricThread`` with pymongo clients.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import bson
import pymongo
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from fedstate_sim.config import SimSettings
from fedstate_sim.mongo.api import MemberLaunch
from fedstate_sim.mongo.threaded import FabricThread
from fedstate_sim.mongo.wire import HEADER, OP_MSG

T = TypeVar("T")
CLOSE_SECONDS = 0.5  # a test harness's client closing: ending its sessions is a courtesy, not a need


def free_port(host: str) -> int:
    """A port that is free on ``host`` right now (bind to port 0 and release it)."""
    return free_ports(host, 1)[0]


def free_ports(host: str, count: int) -> list[int]:
    """``count`` distinct ports free on ``host``: all are held until every one is chosen."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def plan_members(
    repl_set: str, layout: dict[str, int], octet: int, image: str = "mongo:6.0", key_file: str | None = None
) -> list[MemberLaunch]:
    """Launches for ``layout`` ({cluster: member count}); cluster k (1-based, in order) gets VIP 127.0.<octet>.<k>.

    With ``key_file`` every member runs with that keyFile (access control on), as the agent's pods do."""
    launches: list[MemberLaunch] = []
    for index, (cluster, count) in enumerate(layout.items(), start=1):
        host = f"127.0.{octet}.{index}"
        for port in free_ports(host, count):
            ordinal = len(launches)
            launches.append(
                MemberLaunch(
                    cluster=cluster,
                    host=host,
                    port=port,
                    repl_set=repl_set,
                    data_key=f"{cluster}/default/data-{repl_set}-m{ordinal}",
                    pod=f"default/{repl_set}-m{ordinal}-0",
                    image=image,
                    key_file=key_file,
                )
            )
    return launches


def address(launch: MemberLaunch) -> str:
    return f"{launch.host}:{launch.port}"


def initiate_document(
    repl_set: str, launches: list[MemberLaunch], **member_overrides: dict[str, Any]
) -> dict[str, Any]:
    """A replSetInitiate config with ``_id`` = position; overrides keyed by ``m<position>``."""
    members = []
    for index, launch in enumerate(launches):
        members.append({"_id": index, "host": address(launch), **member_overrides.get(f"m{index}", {})})
    return {"_id": repl_set, "version": 1, "members": members}


def seed_list(launches: list[MemberLaunch]) -> str:
    return ",".join(address(launch) for launch in launches)


def wait_until(
    predicate: Callable[[], T | None], timeout: float = 10.0, interval: float = 0.05, what: str = "condition"
) -> T:
    """Poll ``predicate`` until it returns something truthy; raise TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as error:  # the condition may fail while the set is converging
            last_error = error
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what} (last error: {last_error!r})")


def direct_client(launch: MemberLaunch, **options: Any) -> MongoClient[dict[str, Any]]:
    """A pymongo client connected straight to one member (directConnection=true)."""
    options.setdefault("serverSelectionTimeoutMS", 5000)
    return MongoClient(address(launch), directConnection=True, **options)


def replica_set_client(launches: list[MemberLaunch], repl_set: str, **options: Any) -> MongoClient[dict[str, Any]]:
    """A pymongo client discovering the set from every member's address."""
    options.setdefault("serverSelectionTimeoutMS", 10_000)
    return MongoClient(f"mongodb://{seed_list(launches)}/?replicaSet={repl_set}", **options)


def member_states(client: MongoClient[dict[str, Any]]) -> dict[str, str]:
    """{host: stateStr} from replSetGetStatus through ``client``."""
    status = client.admin.command("replSetGetStatus")
    return {m["name"]: m["stateStr"] for m in status["members"]}


def error_code(error: BaseException) -> int | None:
    """The server's error code of a pymongo exception (OperationFailure or NotPrimaryError)."""
    details = getattr(error, "details", None)
    if isinstance(details, Mapping):
        return details.get("code")
    return getattr(error, "code", None)


def primaries(client: MongoClient[dict[str, Any]]) -> list[str]:
    return [name for name, state in member_states(client).items() if state == "PRIMARY"]


class SetHarness:
    """One replica set of simulated members on a FabricThread: start, initiate, find the primary, clients."""

    def __init__(
        self, sim: FabricThread, repl_set: str, layout: dict[str, int], octet: int, key_file: str | None = None
    ) -> None:
        self.sim = sim
        self.repl_set = repl_set
        self.launches = plan_members(repl_set, layout, octet, key_file=key_file)
        self._clients: list[MongoClient[dict[str, Any]]] = []

    def start(self) -> SetHarness:
        for launch in self.launches:
            self.sim.start_member(launch)
        return self

    def initiate(self, **member_overrides: dict[str, Any]) -> dict[str, Any]:
        """replSetInitiate on the first member, from inside its pod (the localhost exception)."""
        document = initiate_document(self.repl_set, self.launches, **member_overrides)
        return self.local(self.launches[0], {"replSetInitiate": document})

    def local(self, launch: MemberLaunch, command: dict[str, Any]) -> dict[str, Any]:
        """A command from a shell inside the member's pod (loopback: the localhost exception applies);
        a failure raises ``OperationFailure`` as pymongo's ``command`` does."""
        reply = self.sim.local_command(launch.host, launch.port, command)
        if not reply.get("ok"):
            raise OperationFailure(reply.get("errmsg", ""), reply.get("code"), reply)
        return reply

    def direct(self, launch: MemberLaunch, **options: Any) -> MongoClient[dict[str, Any]]:
        return self._keep(direct_client(launch, **options))

    def client(self, **options: Any) -> MongoClient[dict[str, Any]]:
        """A replica-set-discovery client (fast monitoring)."""
        options.setdefault("heartbeatFrequencyMS", 500)
        return self._keep(replica_set_client(self.launches, self.repl_set, **options))

    def by_address(self, host_port: str) -> MemberLaunch:
        return next(launch for launch in self.launches if address(launch) == host_port)

    def running_primaries(self) -> list[str]:
        """Members of this set that consider themselves PRIMARY, read from the fabric."""
        return list(
            self.sim.inspect(
                lambda fabric: [
                    m.host
                    for m in fabric.services.members.values()
                    if m.running and m.state.name == "PRIMARY" and m.launch.repl_set == self.repl_set
                ]
            )
        )

    def wait_for_primary(self, timeout: float = 10.0, excluding: str | None = None) -> MemberLaunch:
        """The single primary, once there is exactly one (other than ``excluding``)."""

        def single() -> str | None:
            found = [p for p in self.running_primaries() if p != excluding]
            return found[0] if len(found) == 1 else None

        return self.by_address(wait_until(single, timeout, what=f"a primary of {self.repl_set}"))

    def wait_until_healthy(self, timeout: float = 10.0) -> MemberLaunch:
        """Every member PRIMARY, SECONDARY or ARBITER with exactly one primary; returns the primary."""

        def healthy() -> bool:
            states = self.sim.inspect(
                lambda fabric: [
                    m.state.name for m in fabric.services.members.values() if m.launch.repl_set == self.repl_set
                ]
            )
            return states.count("PRIMARY") == 1 and set(states) <= {"PRIMARY", "SECONDARY", "ARBITER"}

        wait_until(healthy, timeout, what=f"{self.repl_set} to be healthy")
        return self.wait_for_primary()

    def wait_for_states(self, expected: dict[str, str], via: MemberLaunch, timeout: float = 10.0) -> None:
        """Until replSetGetStatus on ``via`` shows ``expected`` ({host: stateStr}) for those hosts."""
        client = self.direct(via)

        def matches() -> bool:
            states = member_states(client)
            return all(states.get(host) == state for host, state in expected.items())

        wait_until(matches, timeout, what=f"states {expected}")

    def close(self) -> None:
        for client in self._clients:
            # close() ends the client's sessions on a member it selects first: one in a cluster a test left down
            # would hold each close for the whole server-selection timeout.
            with pymongo.timeout(CLOSE_SECONDS):
                client.close()

    def _keep(self, client: MongoClient[dict[str, Any]]) -> MongoClient[dict[str, Any]]:
        self._clients.append(client)
        return client


@contextlib.contextmanager
def healthy_set(sim: FabricThread, repl_set: str, layout: dict[str, int], octet: int) -> Iterator[SetHarness]:
    """A set started, initiated and with a primary; its clients closed at the end."""
    harness = SetHarness(sim, repl_set, layout, octet).start()
    try:
        harness.initiate()
        harness.wait_until_healthy()
        yield harness
    finally:
        harness.close()


def fast_settings(election_timeout_millis: int = 400) -> SimSettings:
    """Short timings for tests: elections in well under a second."""
    return SimSettings(
        election_timeout_millis=election_timeout_millis, heartbeat_interval_millis=100, replication_lag_millis=5
    )


class RawConnection:
    """A bare socket speaking OP_MSG, for wire-level tests (exhaust streams, missing read preference)."""

    def __init__(self, launch: MemberLaunch, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection((launch.host, launch.port), timeout=timeout)
        self._ids = 0

    def send(self, doc: dict[str, Any], flags: int = 0) -> int:
        self._ids += 1
        payload = struct.pack("<I", flags) + b"\x00" + bson.encode(doc)
        self.sock.sendall(HEADER.pack(HEADER.size + len(payload), self._ids, 0, OP_MSG) + payload)
        return self._ids

    def receive(self) -> tuple[int, int, dict[str, Any]]:
        """(responseTo, flagBits, document) of the next OP_MSG reply."""
        length, _, response_to, op_code = HEADER.unpack(self._read(HEADER.size))
        body = self._read(length - HEADER.size)
        assert op_code == OP_MSG, op_code
        return response_to, struct.unpack_from("<I", body)[0], bson.decode(body[5:])

    def command(self, doc: dict[str, Any]) -> dict[str, Any]:
        self.send(doc)
        return self.receive()[2]

    def close(self) -> None:
        self.sock.close()

    def _read(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise ConnectionError("connection closed by the simulated member")
            data += chunk
        return data
