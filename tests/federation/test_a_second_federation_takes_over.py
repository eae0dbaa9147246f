"""Two federation replicas: both answer intake (one queue group, every write a compare-and-set, so a change is
never applied twice), one orchestrates. The orchestrating one killed mid-operation (its connection gone, its
lease never released) is replaced within the stated bound, and the instance asked for meanwhile is orchestrated.
Against a real NATS."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from nats.errors import TimeoutError as NatsTimeout

from fedstate.bus.connection import Bus, connect
from fedstate.bus.names import Elected, InstanceKey, Kind, LeaseHolder, intake_subject, leader_key, lease_key
from fedstate.leadership import LeaderTiming
from fedstate.models.base import utcnow
from fedstate.models.lease import Lease
from fedstate.models.placement import ClusterAssignment, Placement
from fedstate.natsserver import NatsServer, start_nats_server
from fedstate.sealing import KeyRing
from fedstate_federation.__main__ import body
from fedstate_federation.settings import FederationSettings
from fedstate_federation.vault import Vault
from tests.conftest import register_clusters

FAST = FederationSettings(leader_lease_seconds=3, leader_renew_deadline_seconds=2, leader_retry_seconds=0.5)
BOUND = LeaderTiming.of(FAST).takeover_bound
LEASE = leader_key(Elected.ORCHESTRATOR)
ATTEMPTS = 3
# Every replica holds the federation's one key ring, as each pod mounts the one Secret.
VAULT = Vault(KeyRing.generate())
MEMBER_KEY = KeyRing.generate()


class Replica:
    """One federation process: a connection of its own and the service body on it."""

    def __init__(self, bus: Bus) -> None:
        self.bus, self.stack, self.killed = bus, AsyncExitStack(), False
        self.task = asyncio.create_task(body(bus, self.stack, FAST, VAULT))

    async def kill(self) -> None:
        """As ``kill -9``: the connection drops first, so nothing is released on the way out."""
        self.killed = True
        await self.bus.nc.close()
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)

    async def stop(self) -> None:
        if not self.killed:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            await self.stack.aclose()
            await self.bus.close()


@pytest.fixture(scope="module")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """A server of this module's own (the session's is shared by every test a worker runs): a replica orchestrates
    every instance on the bus, and what other tests leave there — instances sealed to other keys, values it cannot
    read, another replica's leader lease — kept these replicas busy past the bounds below."""
    server = start_nats_server(tmp_path_factory.mktemp("takeover-jetstream"))
    yield server
    server.stop()


@pytest.fixture
async def start(nats_server: NatsServer) -> AsyncIterator[Callable[[], Awaitable[Replica]]]:
    replicas: list[Replica] = []

    async def started() -> Replica:
        replicas.append(Replica(await connect(nats_server.url, name=f"federation-{uuid.uuid4().hex[:6]}")))
        return replicas[-1]

    yield started
    for replica in replicas:
        await replica.stop()


async def wait_for(check: Callable[[], Awaitable[object]], timeout: float) -> None:
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < timeout, f"not within {timeout:g} s"
        await asyncio.sleep(0.05)


async def holder(bus: Bus) -> str | None:
    entry = await bus.leaders.get(LEASE)
    return entry.value.holder if entry else None


async def apply(bus: Bus, tenant: str, name: str, **metadata: Any) -> dict[str, Any]:
    manifest = {
        "apiVersion": "middleware.fedstate.io/v1alpha1",
        "kind": "MultiCloudMongoDB",
        "metadata": {"name": name, **metadata},
        "spec": {"replicaset": 3},
    }
    body = json.dumps({"op": "apply", "object": manifest}).encode()
    for _ in range(ATTEMPTS):
        try:
            reply = await bus.nc.request(intake_subject(tenant), body, timeout=5)
        except NatsTimeout:
            # It reached a replica killed just before (the server had not noticed yet): as a client does, retry.
            continue
        return dict(json.loads(reply.data))
    raise AssertionError(f"no replica answered the apply of {name}")


async def created(bus: Bus, tenant: str, name: str) -> InstanceKey:
    """Apply an instance and place it on member-1, as the scheduler would (its agent has published its key)."""
    lease = Lease(
        holder="member-1",
        component=LeaseHolder.AGENT,
        renewed_at=utcnow(),
        renew_every_seconds=5,
        public_key=MEMBER_KEY.public_key,
    )
    await bus.leases.put(lease_key(LeaseHolder.AGENT, "member-1"), lease)
    assert (await apply(bus, tenant, name))["ok"]
    key = InstanceKey(tenant, "default", Kind.MULTICLOUD_MONGODB, name)
    assignment = ClusterAssignment(cluster="member-1", replicas=3, voters=3)
    await bus.placements.put(key.placement_key, Placement(spec_generation=1, mode="Uniform", clusters=[assignment]))
    return key


def orchestrated(bus: Bus, key: InstanceKey) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await bus.dataplane.get(key.dataplane_key("member-1")) is not None

    return check


async def test_two_intake_replicas_apply_one_change_once(bus: Bus, start: Callable[[], Awaitable[Replica]]) -> None:
    """Eight applies over the same version at once, spread over both replicas: one wins, seven are conflicts."""
    await start()
    await start()
    tenant = f"ha{uuid.uuid4().hex[:8]}"
    assert (await apply(bus, tenant, "once"))["ok"]
    stored = await bus.spec.get(InstanceKey(tenant, "default", Kind.MULTICLOUD_MONGODB, "once").spec_key)
    assert stored is not None
    replies = await asyncio.gather(
        *(apply(bus, tenant, "once", resourceVersion=str(stored.revision), labels={"n": str(n)}) for n in range(8))
    )
    assert 1 == sum(reply["ok"] for reply in replies)
    assert 7 == sum(reply.get("error", {}).get("code") == 409 for reply in replies)


async def test_killing_the_orchestrating_replica_loses_no_instance(
    bus: Bus, start: Callable[[], Awaitable[Replica]]
) -> None:
    await register_clusters(bus)
    tenant = f"ha{uuid.uuid4().hex[:8]}"
    first = await start()
    await wait_for(lambda: holder(bus), timeout=10)
    await start()
    leader = await holder(bus)
    before = await created(bus, tenant, "before")
    await wait_for(orchestrated(bus, before), timeout=20)

    during = await created(bus, tenant, "during")  # in flight when the leader dies
    await first.kill()
    after = await created(bus, tenant, "after")  # answered by the other replica's intake

    async def taken_over() -> bool:
        return await holder(bus) not in (None, leader)

    await wait_for(taken_over, timeout=BOUND + 5)  # + the poll and a loaded machine's slack
    for key in (before, during, after):
        await wait_for(orchestrated(bus, key), timeout=20)
