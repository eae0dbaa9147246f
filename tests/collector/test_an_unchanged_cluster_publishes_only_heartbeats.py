"""Collectors publish on change plus a heartbeat (issue 9, item 3): an idle cluster writes only its lease,
readers still see it alive, a change is published, and a cluster that cannot be seen is not vouched for."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager

import pytest

from fedstate.bus.cache import KVCache
from fedstate.bus.connection import Bus
from fedstate.bus.names import LeaseHolder, lease_key
from fedstate.clusters import Clusters
from fedstate.models.cluster import ClusterSnapshot
from fedstate_collector.__main__ import COLLECT_ERRORS, Collector

from .conftest import Sim

PERIOD = 0.1  # heartbeat and resync: many of each while the test waits
ROUNDS = 10


async def until(check: Callable[[], bool | Awaitable[bool]], attempts: int = 600) -> None:
    for _ in range(attempts):
        outcome = check()
        if outcome if isinstance(outcome, bool) else await outcome:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the condition never held")


class Counted:
    """The collector's looks at its cluster and its lease renewals, as they happen."""

    def __init__(self, collector: Collector) -> None:
        self.looks = 0
        self.renewals = 0
        observe = collector.observe

        async def counting() -> ClusterSnapshot:
            self.looks += 1
            return await observe()

        collector.observe = counting  # type: ignore[method-assign]


@asynccontextmanager
async def running(bus: Bus, collector: Collector) -> AsyncIterator[Counted]:
    """The collector's own loop (``run``), with its looks and renewals counted."""
    counted = Counted(collector)
    key = lease_key(LeaseHolder.COLLECTOR, collector.settings.cluster)

    def renewed(_: str, entry: object) -> None:
        counted.renewals += entry is not None

    leases = KVCache(bus.leases, key, on_change=renewed)
    await leases.start()
    task = asyncio.create_task(collector.run())
    try:
        yield counted
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await leases.stop()


async def stored(bus: Bus, collector: Collector) -> int:
    entry = await bus.clusters.get(collector.settings.cluster)
    return entry.revision if entry else 0


async def test_an_idle_cluster_renews_its_lease_and_writes_its_snapshot_once(bus: Bus, sim: Sim) -> None:
    """Many resyncs and heartbeats of an unchanged cluster write the snapshot once; readers see its heartbeat
    move on; a node relabelled is published."""
    async with AsyncExitStack() as stack:
        collector = await sim.collector(
            stack, bus, "a", informing=False, heartbeat_seconds=PERIOD, resync_seconds=PERIOD
        )
        async with running(bus, collector) as counted:
            await until(lambda: counted.renewals > 0)
            first = await stored(bus, collector)
            await until(lambda: counted.looks > ROUNDS and counted.renewals > ROUNDS)
            assert first == await stored(bus, collector)

            clusters = Clusters(bus.clusters, bus.leases)
            await clusters.start()
            view = clusters.get(collector.settings.cluster)
            snapshot = await bus.clusters.get(collector.settings.cluster)
            await clusters.stop()
            assert view is not None and snapshot is not None
            assert view.observed_at > snapshot.value.observed_at  # the lease, renewed since

            await collector.core.patch_node(sim.name("a-node-1"), {"metadata": {"labels": {"disk": "ssd"}}})
            await until(lambda: _later(bus, collector, first))
    published = await bus.clusters.get(collector.settings.cluster)
    assert published is not None
    assert {"disk": "ssd"}.items() <= next(n for n in published.value.nodes if n.name.endswith("node-1")).labels.items()


async def _later(bus: Bus, collector: Collector, revision: int) -> bool:
    return await stored(bus, collector) > revision


async def test_a_cluster_whose_api_fails_is_not_vouched_for_until_it_answers_again(
    bus: Bus, sim: Sim, caplog: pytest.LogCaptureFixture
) -> None:
    """While the cluster's API refuses connections the lease is not renewed; once it answers, it is again. The
    outage is one warning when it starts (a look every 0.1 s here, every few seconds in a stack), and one line when
    it ends."""
    caplog.set_level(logging.INFO, logger="fedstate_collector.__main__")
    async with AsyncExitStack() as stack:
        collector = await sim.collector(
            stack, bus, "b", informing=False, heartbeat_seconds=PERIOD, resync_seconds=PERIOD
        )
        errors = COLLECT_ERRORS.labels(collector.settings.cluster)
        async with running(bus, collector) as counted:
            await until(lambda: counted.renewals > 1)
            await sim.world.fail_cluster(sim.name("b"))
            failed = errors._value.get()
            await until(lambda: errors._value.get() >= failed + 2)  # failed looks: the lease is not vouched for
            silent = counted.renewals
            await until(lambda: errors._value.get() >= failed + 2 + ROUNDS // 2)
            assert silent == counted.renewals
            await sim.world.recover_cluster(sim.name("b"))
            await until(lambda: counted.renewals > silent)
            await until(lambda: any(r.getMessage() == "collection resumed" for r in caplog.records))
    told = [r for r in caplog.records if r.getMessage().startswith("collection")]
    assert ["collection failed", "collection resumed"] == [r.getMessage() for r in told if r.levelno >= logging.INFO]
    assert logging.WARNING == told[0].levelno
    assert told[-1].failures >= 2 + ROUNDS // 2  # type: ignore[attr-defined]


async def test_a_look_before_the_first_lists_have_come_back_waits_without_a_warning(
    bus: Bus, sim: Sim, caplog: pytest.LogCaptureFixture
) -> None:
    """At a busy start a look may come before the informers' first lists are answered: it publishes nothing and
    vouches for nothing, but it is no failure (no warning, no error counted); once they are, the next look is."""
    async with AsyncExitStack() as stack:
        collector = await sim.collector(stack, bus, "a", informing=False)
        errors = COLLECT_ERRORS.labels(collector.settings.cluster)
        before = errors._value.get()
        await collector.look()
        assert (False, before, 0) == (collector.seeing, errors._value.get(), await stored(bus, collector))
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
        following = asyncio.create_task(collector.follow())
        try:
            await collector.synced(timeout=10)
            await collector.look()
        finally:
            following.cancel()
            await asyncio.gather(following, return_exceptions=True)
    assert collector.seeing and collector.seeing_again.is_set()


async def test_a_first_look_before_the_lists_are_answered_warns_of_nothing_and_the_lease_follows_the_first_seen(
    bus: Bus, sim: Sim, caplog: pytest.LogCaptureFixture
) -> None:
    """A collector whose first look comes before any list is answered (its wait for them cut short, as a busy
    start's 5 s can be): no warning — neither a failed collection nor a lease it cannot renew — and the lease is
    renewed once the cluster is seen."""
    async with AsyncExitStack() as stack:
        collector = await sim.collector(
            stack, bus, "a", informing=False, heartbeat_seconds=PERIOD, resync_seconds=PERIOD
        )

        async def not_waiting(timeout: float) -> None:
            del timeout

        collector.synced = not_waiting  # type: ignore[method-assign]
        async with running(bus, collector) as counted:
            await until(lambda: counted.renewals > 0)
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_watch_broken_for_a_moment_is_no_failed_collection(
    bus: Bus, sim: Sim, caplog: pytest.LogCaptureFixture
) -> None:
    """The API away for a moment, shorter than an informer's pause before it lists again: its watches broke, but
    nothing it holds was found old, so a look then still sees the cluster and warns of nothing. Streams end (a
    load balancer, a restarted API server); only a list that fails says the cluster cannot be seen."""
    async with AsyncExitStack() as stack:
        collector = await sim.collector(stack, bus, "a")
        await collector.look()
        await sim.world.fail_cluster(sim.name("a"))
        await asyncio.sleep(0.3)  # the watches end and their next try is refused; the lists again come after 1 s
        await sim.world.recover_cluster(sim.name("a"))
        await collector.look()
    assert collector.seeing
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and "collect" in r.getMessage()]
