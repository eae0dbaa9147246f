"""Claims about the scheduler service against a real NATS server: specs in, placements out."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from scheduler_builders import cluster

from fedstate.bus.connection import Bus
from fedstate.bus.names import Bucket, LeaseHolder, kv_stream, kv_subject, lease_key
from fedstate.bus.objects import StatusRecord, StoredObject
from fedstate.models.base import ObjectMeta
from fedstate.models.dataplane import Credentials, InstanceRef, RetainedVolumes
from fedstate.models.lease import Lease
from fedstate.models.multicloud import ClusterResult, MultiCloudMongoDBStatus
from fedstate.models.placement import Placement
from fedstate.scrape import exposition
from fedstate.sealing import KeyRing, seal
from fedstate.settings import ServiceSettings
from fedstate_scheduler.service import make_body


@pytest.fixture
def tenant() -> str:
    """A tenant of its own, so this test's specs and clusters never meet another test's."""
    return f"sched{uuid.uuid4().hex[:8]}"


Starter = Callable[[], None]


@pytest.fixture
async def start(bus: Bus, tenant: str) -> AsyncIterator[Starter]:
    """Starts the scheduler's service body in-process (after the test has put its clusters)."""
    body = make_body(ServiceSettings(), tenant=tenant)
    tasks: list[asyncio.Task[None]] = []
    async with AsyncExitStack() as stack:
        yield lambda: tasks.append(asyncio.create_task(body(bus, stack)))
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def stored(tenant: str, name: str, generation: int, spec: dict[str, Any]) -> StoredObject:
    return StoredObject(
        api_version="middleware.fedstate.io/v1alpha1",
        kind="MultiCloudMongoDB",
        tenant=tenant,
        metadata=ObjectMeta(name=name, generation=generation),
        spec=spec,
    )


async def put_clusters(bus: Bus, tenant: str, count: int, nodes: int = 2, pool: str | None = None) -> None:
    for index in range(count):
        snapshot = cluster(
            f"{tenant}-c{index}", nodes=nodes, node_labels={"pool": pool or tenant}, observed_at=datetime.now(UTC)
        )
        await bus.clusters.put(snapshot.name, snapshot)


async def placement_of(bus: Bus, key: str, generation: int, timeout: float = 5.0) -> Placement:
    async def poll() -> Placement:
        while True:
            entry = await bus.placements.get(key)
            if entry is not None and entry.value.spec_generation == generation:
                return entry.value
            await asyncio.sleep(0.05)

    return await asyncio.wait_for(poll(), timeout)


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> bool:
    """Polls ``check`` until it holds or ``timeout`` passes."""
    for _ in range(int(timeout / 0.05)):
        if await check():
            return True
        await asyncio.sleep(0.05)
    return False


async def absent(bus: Bus, key: str) -> bool:
    return await bus.placements.get(key) is None


async def schedulable(bus: Bus, key: str) -> bool:
    entry = await bus.placements.get(key)
    return entry is not None and entry.value.schedulable


def mongo_spec(tenant: str, replicaset: int) -> dict[str, Any]:
    """Members fit on the test's own nodes only (nodeSelect), whatever other tests left in the bucket."""
    return {
        "replicaset": replicaset,
        "resource": {"requests": {"cpu": "1", "memory": "1Gi"}},
        "spreadConstraints": {"nodeSelect": {"pool": tenant}},
    }


async def placed_on_three(
    bus: Bus, tenant: str, start: Starter, name: str, replicaset: int
) -> tuple[StoredObject, Placement]:
    """Three fresh clusters, the scheduler started, a new spec: the spec and its first placement."""
    await put_clusters(bus, tenant, 3)
    start()
    obj = stored(tenant, name, 1, mongo_spec(tenant, replicaset))
    await bus.spec.put(obj.key.spec_key, obj)
    return obj, await placement_of(bus, obj.key.placement_key, 1)


async def test_a_new_spec_gets_a_placement_with_no_voting_majority_anywhere(
    bus: Bus, tenant: str, start: Starter
) -> None:
    """Five members over three fresh clusters are written as 2+2+1."""
    _, placement = await placed_on_three(bus, tenant, start, "rs0", 5)
    assert placement.schedulable
    assert [1, 2, 2] == sorted(placement.replicas_by_cluster().values())


async def test_a_pass_reads_the_spec_its_watch_delivered_not_the_stream(bus: Bus, tenant: str, start: Starter) -> None:
    """A pass reads the spec from the scheduler's cache, fed by the watch that enqueued it. A direct get instead
    could be answered by a NATS cluster's follower that does not hold the write yet: the spec read as deleted was
    forgotten and never placed (seen in CI, on a three-server cluster)."""
    asked: list[str] = []

    async def note(msg: Any) -> None:
        asked.append(msg.subject)

    tap = await bus.nc.subscribe(f"$JS.API.DIRECT.GET.{kv_stream(Bucket.SPEC)}.>", cb=note)  # a get by subject
    await put_clusters(bus, tenant, 3)
    start()
    obj = stored(tenant, "rs-read", 1, mongo_spec(tenant, 3))
    await bus.spec.put(obj.key.spec_key, obj)
    await placement_of(bus, obj.key.placement_key, 1)
    await bus.nc.flush()
    await tap.unsubscribe()
    assert [] == [subject for subject in asked if obj.key.spec_key in subject]


async def test_a_placement_follows_a_new_generation_and_goes_with_its_spec(
    bus: Bus, tenant: str, start: Starter
) -> None:
    """A scale writes a placement for the new generation; deleting the spec key deletes the placement."""
    await put_clusters(bus, tenant, 3)
    start()
    obj = stored(tenant, "rs1", 1, mongo_spec(tenant, 3))
    await bus.spec.put(obj.key.spec_key, obj)
    first = await placement_of(bus, obj.key.placement_key, 1)
    scaled = stored(tenant, "rs1", 2, mongo_spec(tenant, 5))
    await bus.spec.put(obj.key.spec_key, scaled)
    second = await placement_of(bus, obj.key.placement_key, 2)
    assert all(second.replicas_by_cluster()[c] >= n for c, n in first.replicas_by_cluster().items())
    await bus.spec.delete(obj.key.spec_key)
    assert await until(lambda: absent(bus, obj.key.placement_key))


async def test_a_scale_down_to_one_member_keeps_it_where_the_status_says_the_primary_is(
    bus: Bus, tenant: str, start: Starter
) -> None:
    """1+1+1 scaled to 1: without a word of the PRIMARY the mode's order would keep the last cluster by name."""
    obj, placement = await placed_on_three(bus, tenant, start, "rs-primary", 3)
    assert 3 == len(placement.replicas_by_cluster())
    primary = f"{tenant}-c0"
    roles = {primary: "PRIMARY", f"{tenant}-c1": "SECONDARY", f"{tenant}-c2": "SECONDARY"}
    results = [
        ClusterResult(cluster=c, connect_addr_with_role={f"10.0.0.{i}:27017": r})
        for i, (c, r) in enumerate(roles.items())
    ]
    status = StatusRecord(kind="MultiCloudMongoDB", multicloud=MultiCloudMongoDBStatus(result=results))
    await bus.status.put(obj.key.status_key, status)
    await bus.spec.put(obj.key.spec_key, stored(tenant, "rs-primary", 2, mongo_spec(tenant, 1)))
    assert {primary: 1} == (await placement_of(bus, obj.key.placement_key, 2)).replicas_by_cluster()


async def test_a_scale_down_goes_ahead_when_the_status_cannot_be_read(bus: Bus, tenant: str, start: Starter) -> None:
    """An unreadable status (or one the scheduler may not read) is no reason to hold a scale-down."""
    obj, _ = await placed_on_three(bus, tenant, start, "rs-garbled", 3)
    await bus.js.publish(kv_subject(Bucket.STATUS, obj.key.status_key), b"not json")
    await bus.spec.put(obj.key.spec_key, stored(tenant, "rs-garbled", 2, mongo_spec(tenant, 1)))
    assert 1 == sum((await placement_of(bus, obj.key.placement_key, 2)).replicas_by_cluster().values())


async def test_an_unschedulable_spec_is_placed_once_clusters_appear(bus: Bus, tenant: str, start: Starter) -> None:
    """With no cluster the placement says why; when clusters arrive it is retried and placed."""
    start()
    obj = stored(tenant, "rs2", 1, mongo_spec(tenant, 3))
    await bus.spec.put(obj.key.spec_key, obj)
    refused = await placement_of(bus, obj.key.placement_key, 1)
    assert not refused.schedulable
    await put_clusters(bus, tenant, 3)
    assert await until(lambda: schedulable(bus, obj.key.placement_key))
    placed = await placement_of(bus, obj.key.placement_key, 1)
    assert {1} == set(placed.replicas_by_cluster().values())


async def test_instances_arriving_at_once_do_not_overcommit(bus: Bus, tenant: str, start: Starter) -> None:
    """Twenty 3-member instances on clusters that fit ten: ten are placed, ten wait with the reason
    and are placed when more clusters appear."""
    await put_clusters(bus, tenant, 3, nodes=5)  # 3 clusters x 5 nodes x 2 members of 2 CPU: 30 members
    start()
    objects = [stored(tenant, f"burst{i}", 1, {**mongo_spec(tenant, 3), "resource": {"requests": {"cpu": "2"}}})
               for i in range(20)]  # fmt: skip
    await asyncio.gather(*(bus.spec.put(o.key.spec_key, o) for o in objects))
    placements = [await placement_of(bus, o.key.placement_key, 1) for o in objects]
    placed = [p for p in placements if p.schedulable]
    assert 10 == len(placed)
    assert all("insufficient cpu" in p.summary for p in placements if not p.schedulable)
    await put_clusters(bus, f"{tenant}x", 3, nodes=5, pool=tenant)  # room for the ten still waiting
    for key in [o.key.placement_key for o in objects]:
        assert await until(functools.partial(schedulable, bus, key))


async def test_heartbeats_alone_do_not_rewrite_an_unschedulable_placement(
    bus: Bus, tenant: str, start_with: Callable[[ServiceSettings], None]
) -> None:
    """Retrying on every heartbeat reaches the same verdicts, so the stored placement keeps its revision.

    Every cluster on the bus gets a verdict, other tests' too: with thresholds longer than the test, none of them
    goes silent meanwhile (one that did would rightly change the verdicts: found by CI's random order)."""
    other = f"{tenant}-other"
    await bus.clusters.put(other, cluster(other, observed_at=datetime.now(UTC)))
    start_with(ServiceSettings(failure_threshold_seconds=3600, failover_after_seconds=7200))
    obj = stored(tenant, "rs3", 1, mongo_spec(tenant, 3))
    await bus.spec.put(obj.key.spec_key, obj)
    await placement_of(bus, obj.key.placement_key, 1)
    first = await bus.placements.get(obj.key.placement_key)
    for _ in range(3):
        await bus.clusters.put(other, cluster(other, observed_at=datetime.now(UTC)))
        await asyncio.sleep(0.6)
    later = await bus.placements.get(obj.key.placement_key)
    assert first is not None and later is not None
    assert first.revision == later.revision


async def test_an_instance_adopting_retained_volumes_is_placed_where_they_are(
    bus: Bus, tenant: str, start: Starter
) -> None:
    """Five equal clusters: a fresh 3-member instance could go to any three; one that adopts the volumes
    a deleted instance left in c1, c3 and c4 is placed there. Without the flag the record is ignored."""
    await put_clusters(bus, tenant, 5)
    start()
    kept = {f"{tenant}-c{index}": [ordinal] for ordinal, index in enumerate((1, 3, 4))}
    adopting = stored(tenant, "again", 1, {**mongo_spec(tenant, 3), "storage": {"adoptRetainedVolumes": True}})
    await bus.retained.put(adopting.key.retained_key, retained(adopting, kept))
    await bus.spec.put(adopting.key.spec_key, adopting)
    placement = await placement_of(bus, adopting.key.placement_key, 1)
    assert dict.fromkeys(kept, 1) == placement.replicas_by_cluster()

    fresh = stored(tenant, "fresh", 1, mongo_spec(tenant, 3))
    await bus.retained.put(fresh.key.retained_key, retained(fresh, kept))
    await bus.spec.put(fresh.key.spec_key, fresh)
    assert dict.fromkeys(kept, 1) != (await placement_of(bus, fresh.key.placement_key, 1)).replicas_by_cluster()


FEDERATION_KEY = KeyRing.generate()


def retained(obj: StoredObject, members: dict[str, list[int]]) -> RetainedVolumes:
    return RetainedVolumes(
        instance=InstanceRef(tenant=obj.tenant, namespace=obj.metadata.namespace, name=obj.metadata.name, uid="old"),
        volume_uid="old",
        repl_set_name=obj.metadata.name,
        members=members,
        next_ordinal=3,
        vault=seal(FEDERATION_KEY, FEDERATION_KEY.public_key, "vault", Credentials.generate().to_wire()),
        deleted_at=datetime.now(UTC),
    )


@pytest.fixture
async def start_with(bus: Bus, tenant: str) -> AsyncIterator[Callable[[ServiceSettings], None]]:
    """Like ``start``, with the settings given."""
    tasks: list[asyncio.Task[None]] = []
    async with AsyncExitStack() as stack:
        yield lambda settings: tasks.append(asyncio.create_task(make_body(settings, tenant=tenant)(bus, stack)))
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_cluster_silent_past_failover_loses_its_members_and_only_those_move(
    bus: Bus, tenant: str, start_with: Callable[[ServiceSettings], None]
) -> None:
    """Five members over four clusters (2+1+1+1). A cluster silent for longer than the failure threshold
    but not yet the failover delay keeps its members; once silent past it, its members (only they) move."""
    await put_clusters(bus, tenant, 4)
    start_with(ServiceSettings(failure_threshold_seconds=5, failover_after_seconds=20))
    obj = stored(tenant, "fo", 1, mongo_spec(tenant, 5))
    await bus.spec.put(obj.key.spec_key, obj)
    before = (await placement_of(bus, obj.key.placement_key, 1)).replicas_by_cluster()
    lost = max(before, key=lambda cluster: (before[cluster], cluster))

    async def silent_for(seconds: float) -> None:
        old = cluster(lost, nodes=2, node_labels={"pool": tenant}, observed_at=datetime.now(UTC))
        await bus.clusters.put(
            lost, old.model_copy(update={"observed_at": old.observed_at - timedelta(seconds=seconds)})
        )

    await silent_for(10)  # not Ready any more, but not lost: a slow collector moves nothing
    await asyncio.sleep(3)
    assert before == (await placement_of(bus, obj.key.placement_key, 1)).replicas_by_cluster()

    await silent_for(30)

    async def moved() -> bool:
        return lost not in (await placement_of(bus, obj.key.placement_key, 1)).replicas_by_cluster()

    assert await until(moved, timeout=10)
    after = (await placement_of(bus, obj.key.placement_key, 1)).replicas_by_cluster()
    assert 5 == sum(after.values())
    assert all(after[c] >= n for c, n in before.items() if c != lost), (before, after)


def scraped(tenant: str) -> dict[tuple[str, str], float]:
    """(metric, cluster or instance) → value of this test's series on the scheduler's ``/metrics``."""
    samples = {}
    for family in text_string_to_metric_families(exposition().decode()):
        for sample in family.samples:
            subject = sample.labels.get("cluster") or sample.labels.get("multicloudmongodb", "")
            if sample.labels.get("cluster", "").startswith(tenant) or sample.labels.get("tenant") == tenant:
                samples[sample.name, subject] = sample.value
    return samples


async def test_an_instance_stranded_in_a_lost_cluster_with_no_room_elsewhere_shows_failover_blocked(
    bus: Bus, tenant: str, start_with: Callable[[ServiceSettings], None]
) -> None:
    """Three clusters with room for one member each: once one is lost, its member has nowhere to go."""
    for index in range(3):
        snapshot = cluster(
            f"{tenant}-c{index}", nodes=1, cpu=1000, node_labels={"pool": tenant}, observed_at=datetime.now(UTC)
        )
        await bus.clusters.put(snapshot.name, snapshot)
    start_with(ServiceSettings(failure_threshold_seconds=5, failover_after_seconds=10))
    obj = stored(tenant, "stuck", 1, mongo_spec(tenant, 3))
    await bus.spec.put(obj.key.spec_key, obj)
    await placement_of(bus, obj.key.placement_key, 1)
    assert 1.0 == scraped(tenant)["fedstate_cluster_ready", f"{tenant}-c0"]
    assert 1.0 == scraped(tenant)["fedstate_cluster_capacity_cpu_cores", f"{tenant}-c0"]
    lost = cluster(f"{tenant}-c0", nodes=1, cpu=1000, node_labels={"pool": tenant}, observed_at=datetime.now(UTC))
    await bus.clusters.put(lost.name, lost.model_copy(update={"observed_at": lost.observed_at - timedelta(seconds=30)}))

    async def blocked() -> bool:
        return ("fedstate_instance_failover_blocked", "stuck") in scraped(tenant)

    assert await until(blocked, timeout=10)
    assert 0.0 == scraped(tenant)["fedstate_cluster_ready", f"{tenant}-c0"]
    assert 30 <= scraped(tenant)["fedstate_cluster_heartbeat_age_seconds", f"{tenant}-c0"]


async def test_clusters_whose_snapshot_is_old_take_members_once_their_collectors_renew_leases(
    bus: Bus, tenant: str, start: Starter
) -> None:
    """A snapshot is written only when it changes: clusters whose last one is an hour old are not ready until
    their collectors' leases say they are alive, and then the waiting instance is placed on them."""
    names = [f"{tenant}-c{index}" for index in range(3)]
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    for name in names:
        await bus.clusters.put(name, cluster(name, nodes=2, node_labels={"pool": tenant}, observed_at=long_ago))
    start()
    obj = stored(tenant, "leased", 1, mongo_spec(tenant, 3))
    await bus.spec.put(obj.key.spec_key, obj)
    waiting = await placement_of(bus, obj.key.placement_key, 1, timeout=30)
    assert not waiting.schedulable and "cluster not ready" in waiting.summary
    for name in names:
        lease = Lease(holder=name, component="collector", renewed_at=datetime.now(UTC), renew_every_seconds=5)
        await bus.leases.put(lease_key(LeaseHolder.COLLECTOR, name), lease)
    assert await until(lambda: schedulable(bus, obj.key.placement_key), timeout=30)
    assert dict.fromkeys(names, 1) == (await placement_of(bus, obj.key.placement_key, 1)).replicas_by_cluster()


async def test_the_scheduler_holds_failover_while_most_clusters_are_silent_then_moves_a_lone_one(
    bus: Bus, tenant: str, start_with: Callable[[ServiceSettings], None]
) -> None:
    """Two 3-member instances over four clusters. Three of them silent past failover (at least 75 % of those in
    use): nothing moves, a FailoverHeld event says why, the gauge is 1. Two heard again: the last silent one alone
    is failed over, and no placement keeps it."""
    names = [f"{tenant}-c{k}" for k in range(4)]
    for name in names:
        await bus.clusters.put(
            name, cluster(name, nodes=2, node_labels={"pool": tenant}, observed_at=datetime.now(UTC))
        )
    start_with(ServiceSettings(failure_threshold_seconds=5, failover_after_seconds=10))
    objs = [stored(tenant, f"held{k}", 1, mongo_spec(tenant, 3)) for k in range(2)]
    events = await bus.nc.subscribe(objs[0].key.events_subject)
    before = {}
    for obj in objs:
        await bus.spec.put(obj.key.spec_key, obj)
        before[obj.key.placement_key] = (await placement_of(bus, obj.key.placement_key, 1)).replicas_by_cluster()

    async def heard_of(name: str, seconds_ago: float) -> None:
        at = datetime.now(UTC) - timedelta(seconds=seconds_ago)
        await bus.clusters.put(name, cluster(name, nodes=2, node_labels={"pool": tenant}, observed_at=at))

    for name in names[:3]:
        await heard_of(name, 30)

    async def told_held() -> bool:
        seen = False
        while True:
            try:
                message = await events.next_msg(timeout=0.1)
            except TimeoutError:
                return seen
            seen = seen or b"FailoverHeld" in message.data

    assert await until(told_held, timeout=10)
    assert 1.0 == scraped_gauge()
    await asyncio.sleep(3)  # a second's rechecks, several times over: still nothing moves
    for key, layout in before.items():
        assert layout == (await placement_of(bus, key, 1)).replicas_by_cluster()

    await heard_of(names[0], 0)
    await heard_of(names[1], 0)

    async def moved() -> bool:
        layouts = [(await placement_of(bus, key, 1)).replicas_by_cluster() for key in before]
        return all(names[2] not in layout for layout in layouts)

    assert await until(moved, timeout=15)
    assert 0.0 == scraped_gauge()
    await events.unsubscribe()


def scraped_gauge() -> float:
    """The scheduler's ``fedstate_scheduler_failover_held`` (one scheduler per test process at a time)."""
    found = {
        sample.name: sample.value
        for family in text_string_to_metric_families(exposition().decode())
        for sample in family.samples
    }
    return found.get("fedstate_scheduler_failover_held", -1.0)
