"""The scheduler's reservations live in fs-reservations: a restarted scheduler still deducts the room promised
before it stopped, and a promise is released by the instance's members showing in the cluster's snapshot,
not by other pods growing the cluster's requests. Against a real NATS server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families
from scheduler_builders import cluster

from fedstate.bus.connection import Bus
from fedstate.bus.identities import Component, Identity
from fedstate.bus.objects import StoredObject
from fedstate.models.base import ObjectMeta
from fedstate.models.cluster import ClusterSnapshot, members_key
from fedstate.models.placement import Placement
from fedstate.scrape import exposition
from fedstate.settings import ServiceSettings
from fedstate_scheduler.service import make_body
from tests.conftest import SecuredNats

CLUSTERS = 3  # each with one node of 2 CPU: room for two 1-CPU members


class Schedulers:
    """Starts and stops the scheduler's service body in-process: each start is a new scheduler."""

    def __init__(self, bus: Bus, tenant: str, stack: AsyncExitStack) -> None:
        self.bus, self.tenant, self.stack = bus, tenant, stack
        self.running: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.running = asyncio.create_task(make_body(ServiceSettings(), tenant=self.tenant)(self.bus, self.stack))

    async def stop(self) -> None:
        if self.running is not None:
            self.running.cancel()
            await asyncio.gather(self.running, return_exceptions=True)
            self.running = None


@pytest.fixture
def tenant() -> str:
    return f"resv{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def schedulers(bus: Bus, tenant: str) -> AsyncIterator[Schedulers]:
    async with AsyncExitStack() as stack:
        started = Schedulers(bus, tenant, stack)
        yield started
        await started.stop()


def snapshot(tenant: str, index: int, *, used_cpu: int = 0, members: dict[str, int] | None = None) -> ClusterSnapshot:
    fresh = cluster(
        f"{tenant}-c{index}", nodes=1, cpu=2000, node_labels={"pool": tenant}, observed_at=datetime.now(UTC)
    )
    node = fresh.nodes[0].model_copy(update={"requested_cpu_millis": used_cpu, "pods": used_cpu // 1000})
    return fresh.model_copy(update={"nodes": [node], "members": members or {}})


async def put_clusters(bus: Bus, tenant: str, **changes: object) -> None:
    for index in range(CLUSTERS):
        made = snapshot(tenant, index, **changes)  # type: ignore[arg-type]
        await bus.clusters.put(made.name, made)


def instance(tenant: str, name: str) -> StoredObject:
    return StoredObject(
        api_version="middleware.fedstate.io/v1alpha1",
        kind="MultiCloudMongoDB",
        tenant=tenant,
        metadata=ObjectMeta(name=name, generation=1),
        spec={
            "replicaset": 3,
            "resource": {"requests": {"cpu": "1", "memory": "1Gi"}},
            "spreadConstraints": {"nodeSelect": {"pool": tenant}},
        },
    )


async def placed(bus: Bus, obj: StoredObject) -> Placement:
    await bus.spec.put(obj.key.spec_key, obj)
    for _ in range(200):
        entry = await bus.placements.get(obj.key.placement_key)
        if entry is not None:
            return entry.value
        await asyncio.sleep(0.05)
    raise AssertionError(f"no placement for {obj.key}")


def reserved(tenant: str) -> float:
    """The members reserved on the test's first cluster, as the scheduler's /metrics shows them."""
    for family in text_string_to_metric_families(exposition().decode()):
        for sample in family.samples:
            if sample.name == "fedstate_cluster_reserved_members" and sample.labels["cluster"] == f"{tenant}-c0":
                return sample.value
    return -1.0


async def shows(tenant: str, members: float) -> bool:
    for _ in range(100):
        if reserved(tenant) == members:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_a_restarted_scheduler_still_counts_the_room_promised_before(
    bus: Bus, tenant: str, schedulers: Schedulers
) -> None:
    """Two instances fill every cluster while no member runs yet; after a restart a third one finds no room."""
    await put_clusters(bus, tenant)
    schedulers.start()
    first, second = instance(tenant, "first"), instance(tenant, "second")
    assert (await placed(bus, first)).schedulable
    assert (await placed(bus, second)).schedulable
    await schedulers.stop()

    schedulers.start()
    third = await placed(bus, instance(tenant, "third"))
    assert not third.schedulable
    assert "insufficient cpu" in third.summary


async def test_a_promise_is_released_by_its_members_running_not_by_other_pods(
    bus: Bus, tenant: str, schedulers: Schedulers
) -> None:
    await put_clusters(bus, tenant)
    schedulers.start()
    first = instance(tenant, "first")
    assert (await placed(bus, first)).schedulable
    assert await shows(tenant, 1)

    await put_clusters(bus, tenant, used_cpu=1000)  # a pod of somebody else's starts on each cluster
    await asyncio.sleep(0.5)
    assert 1 == reserved(tenant)

    ours = {members_key(first.key.namespace, first.key.name): 1}
    await put_clusters(bus, tenant, used_cpu=2000, members=ours)  # now our member runs too
    assert await shows(tenant, 0)

    async def record_gone() -> bool:
        for _ in range(100):
            if all([await bus.reservations.get(f"{tenant}-c{index}") is None for index in range(CLUSTERS)]):
                return True
            await asyncio.sleep(0.05)
        return False

    assert await record_gone()  # the released promises are dropped, and their records with them


async def test_two_schedulers_deciding_at_once_never_promise_the_same_room(bus: Bus, tenant: str) -> None:
    """Two schedulers (each for a tenant of its own, sharing the clusters) get two 3-member instances each at
    once, on clusters with room for two instances: two are placed, and no cluster is given more than it holds."""
    tenants = [f"{tenant}a", f"{tenant}b"]
    await put_clusters(bus, tenant)
    async with AsyncExitStack() as stack:
        both = [Schedulers(bus, each, stack) for each in tenants]
        for scheduler in both:
            scheduler.start()
        objects = [instance(each, f"i{n}") for each in tenants for n in range(2)]
        for obj in objects:  # on the shared clusters' nodes
            obj.spec["spreadConstraints"] = {"nodeSelect": {"pool": tenant}}
        placements = await asyncio.gather(*(placed(bus, obj) for obj in objects))
        for scheduler in both:
            await scheduler.stop()
    given: dict[str, int] = {}
    for placement in placements:
        for name, members in placement.replicas_by_cluster().items():
            given[name] = given.get(name, 0) + members if placement.schedulable else given.get(name, 0)
    assert 2 == sum(p.schedulable for p in placements)
    assert all(members <= 2 for members in given.values()), given


async def test_the_scheduler_keeps_its_reservations_with_only_its_own_permissions(
    secured_nats: SecuredNats, tenant: str
) -> None:
    """As the ``scheduler`` bus user (docs/security.md), promises are read and written: the second instance
    finds the room the first one holds."""
    admin = await secured_nats.connect(Identity(Component.ADMIN), create_layout=True)
    scheduler = await secured_nats.connect(Identity(Component.SCHEDULER))
    try:
        await put_clusters(admin, tenant)
        async with AsyncExitStack() as stack:
            running = Schedulers(scheduler, tenant, stack)
            running.start()
            first = await placed(admin, instance(tenant, "first"))
            second = await placed(admin, instance(tenant, "second"))
            third = await placed(admin, instance(tenant, "third"))
            await running.stop()
        assert [True, True, False] == [p.schedulable for p in (first, second, third)]
    finally:
        await scheduler.close()
        await admin.close()
