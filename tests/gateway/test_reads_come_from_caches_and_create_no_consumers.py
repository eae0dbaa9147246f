"""The gateway answers reads from caches fed by one watch per bucket (issue 9, item 1): hundreds of list and
get requests create no JetStream consumer, a write is visible to the next read, and a cluster whose
collector renews its lease is Ready however old its snapshot."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from fedstate.api import MULTICLOUD_MONGODB
from fedstate.bus.connection import Bus, connect
from fedstate.bus.names import EVENTS_STREAM, Bucket, InstanceKey, Kind, LeaseHolder, kv_stream, lease_key
from fedstate.bus.objects import StoredObject
from fedstate.models.base import ObjectMeta
from fedstate.models.cluster import ClusterSnapshot
from fedstate.models.dataplane import DataPlaneStatus
from fedstate.models.lease import Lease
from fedstate.models.placement import Placement
from fedstate.natsserver import NatsServer
from tests.gateway_reads import gateway_reads

Manifest = Callable[..., dict[str, Any]]
REQUESTS = 300
CREATED = "$JS.EVENT.ADVISORY.CONSUMER.CREATED.>"


@pytest.fixture
async def created(bus: Bus) -> AsyncIterator[Counter[str]]:
    """Consumers created on the server while the test runs, by stream (from the server's advisories)."""
    counted: Counter[str] = Counter()

    async def count(msg: Any) -> None:
        counted[msg.subject.split(".")[5]] += 1

    subscription = await bus.nc.subscribe(CREATED, cb=count)
    yield counted
    await subscription.unsubscribe()


async def consumers(bus: Bus) -> dict[str, int]:
    return {str(b): (await bus.js.stream_info(kv_stream(b))).state.consumer_count for b in Bucket}


async def test_hundreds_of_reads_create_no_consumer(
    api: httpx.AsyncClient, bus: Bus, tenant: str, created: Counter[str], mcm_body: Manifest
) -> None:
    """After one request of each kind has started the caches, 300 more create no consumer on any stream."""
    for n in range(3):
        assert (
            await api.put(MULTICLOUD_MONGODB.item_path("default", f"read-{n}"), json=mcm_body(f"read-{n}"))
        ).is_success
    key = InstanceKey(tenant, "default", Kind.MULTICLOUD_MONGODB, "read-0")
    await bus.placements.put(key.placement_key, Placement(spec_generation=1, mode="Uniform"))
    await bus.observed.put(
        key.observed_key("member-1"), DataPlaneStatus(cluster="member-1", observed_at=datetime.now(UTC))
    )
    paths = gateway_reads("read-0", "member-1")
    for path in paths:
        assert 200 == (await api.get(path)).status_code, path
    await asyncio.sleep(0)
    created.clear()
    before = await consumers(bus)
    answers = await asyncio.gather(*(api.get(paths[n % len(paths)]) for n in range(REQUESTS)))
    assert {200} == {a.status_code for a in answers}
    await bus.nc.flush()
    assert {} == dict(created)
    # Not one more on any stream. Fewer is not the gateway's doing: the NATS server is the session's, and another
    # test's watches that stopped without deleting their consumers vanish after their inactivity threshold.
    after = await consumers(bus)
    assert {} == {bucket: (before[bucket], count) for bucket, count in after.items() if count > before[bucket]}


async def test_a_write_is_in_the_next_read(api: httpx.AsyncClient, mcm_body: Manifest) -> None:
    """Applied, changed, deleted: each list and get right after shows it, never the state before."""
    path = MULTICLOUD_MONGODB.item_path("default", "fresh")
    for replicas in (3, 5, 7):
        assert (await api.put(path, json=mcm_body("fresh", replicaset=replicas))).is_success
        assert replicas == (await api.get(path)).json()["spec"]["replicaset"]
        listed = (await api.get(MULTICLOUD_MONGODB.collection_path("default"))).json()["items"]
        assert [replicas] == [i["spec"]["replicaset"] for i in listed if i["metadata"]["name"] == "fresh"]


async def test_writes_made_elsewhere_before_a_request_are_all_in_its_answer(
    api: httpx.AsyncClient, nats_server: NatsServer, tenant: str
) -> None:
    """Hundreds of objects stored by another client while this gateway could not take them in (its loop
    busy), then one list: it has every one of them."""
    path = MULTICLOUD_MONGODB.collection_path("default")
    assert [] == (await api.get(path)).json()["items"]  # the cache is started
    names = [f"elsewhere-{n}" for n in range(REQUESTS)]

    async def write() -> None:
        writer = await connect(nats_server.url, name="test-writer")
        try:
            await asyncio.gather(*(writer.spec.put(stored(tenant, n).key.spec_key, stored(tenant, n)) for n in names))
        finally:
            await writer.close()

    elsewhere = threading.Thread(target=asyncio.run, args=(write(),))
    elsewhere.start()
    elsewhere.join()  # blocks this loop: the writes are stored, the gateway has not seen them yet
    assert sorted(names) == sorted(i["metadata"]["name"] for i in (await api.get(path)).json()["items"])


def stored(tenant: str, name: str) -> StoredObject:
    meta = ObjectMeta(name=name, namespace="default", generation=1)
    spec = {"replicaset": 3}
    return StoredObject(
        api_version=MULTICLOUD_MONGODB.api_version, kind="MultiCloudMongoDB", tenant=tenant, metadata=meta, spec=spec
    )


async def test_a_cluster_is_ready_while_its_collector_renews_its_lease(
    api: httpx.AsyncClient, bus: Bus, now: datetime
) -> None:
    """A snapshot written long ago (it has not changed since) is Ready with a fresh collector lease, and its
    heartbeat age is the lease's."""
    name = "leased-1"
    await bus.clusters.put(name, ClusterSnapshot(name=name, vip="127.0.9.1", observed_at=now - timedelta(hours=1)))
    try:
        assert "Unreachable" == (await api.get(f"/clusters/{name}")).json()["health"]
        renewed = Lease(
            holder=name, component="collector", renewed_at=now - timedelta(seconds=3), renew_every_seconds=5
        )
        await bus.leases.put(lease_key(LeaseHolder.COLLECTOR, name), renewed)
        view = (await api.get(f"/clusters/{name}")).json()
        assert ("Ready", 3.0) == (view["health"], view["heartbeatAgeSeconds"])
    finally:
        await bus.clusters.delete(name)
        await bus.leases.delete(lease_key(LeaseHolder.COLLECTOR, name))


async def test_reading_events_leaves_no_consumer_behind(api: httpx.AsyncClient, bus: Bus) -> None:
    """Each ``/events`` request reads the stream with a consumer of its own and deletes it when done."""
    before = (await bus.js.stream_info(EVENTS_STREAM)).state.consumer_count
    for _ in range(10):
        assert 200 == (await api.get("/events", params={"namespace": "default", "name": "quiet"})).status_code
    assert before == (await bus.js.stream_info(EVENTS_STREAM)).state.consumer_count
