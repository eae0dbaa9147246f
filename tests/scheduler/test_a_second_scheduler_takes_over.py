"""Two scheduler replicas: one leads (holds ``fs-leases.leader.scheduler.<tenant>``), the other waits. The leader
killed mid-operation (its connection gone, its lease never released) is replaced within the stated bound;
every instance is then placed, none twice, and no cluster is given more than it holds. Against a real NATS."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack

import pytest
from prometheus_client import REGISTRY
from test_reservations_survive_a_restart import CLUSTERS, instance, put_clusters

from fedstate.bus.connection import Bus, connect
from fedstate.bus.names import Elected, leader_key
from fedstate.leadership import LeaderTiming
from fedstate.models.placement import Placement
from fedstate.natsserver import NatsServer
from fedstate.settings import ServiceSettings
from fedstate_scheduler.service import make_body

FAST = ServiceSettings(leader_lease_seconds=3, leader_renew_deadline_seconds=2, leader_retry_seconds=0.5)
BOUND = LeaderTiming.of(FAST).takeover_bound


class Replica:
    """One scheduler process: a connection of its own and the service body on it."""

    def __init__(self, bus: Bus, tenant: str, stack: AsyncExitStack) -> None:
        self.bus = bus
        self.task = asyncio.create_task(make_body(FAST, tenant=tenant)(bus, stack))

    async def kill(self) -> None:
        """As ``kill -9``: the connection drops first, so nothing is released on the way out."""
        await self.bus.nc.close()
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


@pytest.fixture
def tenant() -> str:
    return f"ha{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def start(nats_server: NatsServer, tenant: str) -> AsyncIterator[Callable[[], asyncio.Future[Replica]]]:
    replicas: list[Replica] = []
    async with AsyncExitStack() as stack:

        async def started() -> Replica:
            bus = await connect(nats_server.url, name=f"scheduler-{uuid.uuid4().hex[:6]}")
            replicas.append(Replica(bus, tenant, stack))
            return replicas[-1]

        yield lambda: asyncio.ensure_future(started())
        for replica in replicas:
            replica.task.cancel()
            await asyncio.gather(replica.task, return_exceptions=True)
            await replica.bus.close()


async def holder(bus: Bus, tenant: str) -> str | None:
    entry = await bus.leaders.get(leader_key(Elected.SCHEDULER, tenant))
    return entry.value.holder if entry else None


async def wait_for(check: Callable[[], object], timeout: float) -> float:
    """Seconds until ``check()`` (awaited) is truthy; fails after ``timeout``."""
    started = time.monotonic()
    while not await check():  # type: ignore[misc]
        assert time.monotonic() - started < timeout, f"not within {timeout:g} s"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def placement(bus: Bus, key: str) -> Placement | None:
    entry = await bus.placements.get(key)
    return entry.value if entry else None


async def test_killing_the_leading_scheduler_mid_operation_loses_nothing_and_overcommits_nothing(
    bus: Bus, tenant: str, start: Callable[[], asyncio.Future[Replica]]
) -> None:
    """Room for two 3-member instances; four are asked for, two before and two while the leader is gone."""
    await put_clusters(bus, tenant)
    first = await start()
    await wait_for(lambda: holder(bus, tenant), timeout=10)
    second = await start()
    leader = await holder(bus, tenant)
    objects = [instance(tenant, f"i{n}") for n in range(4)]

    await bus.spec.put(objects[0].key.spec_key, objects[0])
    await wait_for(lambda: placement(bus, objects[0].key.placement_key), timeout=10)
    await bus.spec.put(objects[1].key.spec_key, objects[1])  # in flight when the leader dies
    await first.kill()
    for obj in objects[2:]:
        await bus.spec.put(obj.key.spec_key, obj)

    async def taken_over() -> bool:
        return await holder(bus, tenant) not in (None, leader)

    await wait_for(taken_over, timeout=BOUND + 5)  # + the poll and a loaded machine's slack

    async def shown_as_leader() -> bool:
        return REGISTRY.get_sample_value("fedstate_leader", {"service": "scheduler"}) == 1

    await wait_for(shown_as_leader, timeout=5)

    async def all_decided() -> bool:
        return all([await placement(bus, obj.key.placement_key) is not None for obj in objects])

    await wait_for(all_decided, timeout=10)
    placements = [await placement(bus, obj.key.placement_key) for obj in objects]
    given = {f"{tenant}-c{index}": 0 for index in range(CLUSTERS)}
    for made in placements:
        assert made is not None
        if made.schedulable:
            for name, members in made.replicas_by_cluster().items():
                given[name] += members
    assert 2 == sum(bool(made and made.schedulable) for made in placements)
    assert all(members <= 2 for members in given.values()), given
    assert second.task.done() is False  # the survivor goes on
