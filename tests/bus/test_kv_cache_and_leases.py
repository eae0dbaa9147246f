"""An informer-style cache follows its bucket with one consumer; leases tell a silent holder from an idle one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from nats.aio.msg import Msg
from prometheus_client import REGISTRY

from fedstate.bus.cache import KVCache
from fedstate.bus.connection import Bus
from fedstate.bus.names import Bucket, LeaseHolder, kv_stream, kv_subject, lease_key
from fedstate.bus.store import Conflict, Outcome
from fedstate.liveness import Liveness, renew_lease, silence_of, until_next_beat
from fedstate.models.dataplane import DataPlaneStatus
from fedstate.models.lease import Lease

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def report(cluster: str) -> DataPlaneStatus:
    return DataPlaneStatus(cluster=cluster, observed_at=T0)


async def until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():  # noqa: ASYNC110 - polling a plain predicate
            await asyncio.sleep(0.01)


async def consumers(bus: Bus, bucket: Bucket) -> int:
    return (await bus.js.stream_info(kv_stream(bucket))).state.consumer_count


async def test_the_cache_holds_what_existed_and_follows_every_later_change(bus: Bus) -> None:
    await bus.observed.put("cachea.t.ns.a", report("cachea"))
    seen: list[tuple[str, bool]] = []
    cache = KVCache(bus.observed, "cachea.>", on_change=lambda key, entry: seen.append((key, entry is not None)))
    await cache.start()
    assert ["cachea.t.ns.a"] == [e.key for e in cache]
    await bus.observed.put("cachea.t.ns.b", report("cachea"))
    await bus.observed.put("cacheb.t.ns.b", report("cacheb"))  # outside the filter
    await bus.observed.delete("cachea.t.ns.a")
    await until(lambda: cache.get("cachea.t.ns.a") is None and cache.get("cachea.t.ns.b") is not None)
    assert [("cachea.t.ns.a", True), ("cachea.t.ns.b", True), ("cachea.t.ns.a", False)] == seen
    await cache.stop()


async def test_reads_from_the_cache_create_no_consumers(bus: Bus) -> None:
    cache = KVCache(bus.observed, "reads.>")
    before = await consumers(bus, Bucket.OBSERVED)
    await cache.start()
    for n in range(200):
        await bus.observed.put(f"reads.t.ns.i{n % 7}", report("reads"))
    await until(lambda: len(cache) == 7)
    assert before + 1 == await consumers(bus, Bucket.OBSERVED)
    await cache.stop()


async def test_a_write_through_the_cache_is_held_at_once_and_not_told_back(bus: Bus) -> None:
    """The writer reads its own write at once; its echo is no news to it; a write by someone else in
    between is not overwritten blindly: the cache catches up and compares again."""
    seen: list[str] = []
    cache = KVCache(bus.observed, "through.>", on_change=lambda key, entry: seen.append(key))
    await cache.start()
    ours = report("through").model_copy(update={"generation": 1})
    assert Outcome.CREATED == await cache.write_through("through.t.ns.a", ours)
    assert ours == cache.get("through.t.ns.a").value  # type: ignore[union-attr]
    assert Outcome.UNCHANGED == await cache.write_through("through.t.ns.a", ours)

    theirs = ours.model_copy(update={"generation": 2})
    await bus.observed.put("through.t.ns.a", theirs)  # not yet seen by the cache, or already: either way
    newer = ours.model_copy(update={"generation": 3})
    assert Outcome.UPDATED == await cache.write_through("through.t.ns.a", newer)
    await cache.catch_up()
    stored = await bus.observed.get("through.t.ns.a")
    assert stored is not None and newer == stored.value == cache.get("through.t.ns.a").value  # type: ignore[union-attr]
    assert seen.count("through.t.ns.a") <= 1, "only the other writer's change is news"
    await cache.stop()


async def test_a_lost_race_says_which_revision_won_and_the_cache_waits_for_it_without_asking_the_stream(
    bus: Bus,
) -> None:
    """On a NATS cluster the stream's last revision may come from a lagging replica (a direct get): after a lost
    compare-and-set the cache waits for the revision the server said won, and asks nobody; a write through it
    then goes on from there."""
    asked: list[str] = []

    async def note(msg: Msg) -> None:
        asked.append(msg.subject)

    tap = await bus.nc.subscribe(f"$JS.API.DIRECT.GET.{kv_stream(Bucket.OBSERVED)}.>", cb=note)
    cache = KVCache(bus.observed, "won.>")
    await cache.start()
    ours = report("won").model_copy(update={"generation": 1})
    created = await cache.write_at("won.t.ns.a", ours, None)
    theirs = ours.model_copy(update={"generation": 2})
    won = await bus.observed.update("won.t.ns.a", theirs, created)
    with pytest.raises(Conflict) as lost:
        await cache.write_at("won.t.ns.a", ours.model_copy(update={"generation": 3}), created)
    assert won == lost.value.latest

    await bus.nc.flush()
    asked.clear()
    await cache.catch_up(lost.value.latest)
    held = cache.get("won.t.ns.a")
    assert held is not None and (won, theirs) == (held.revision, held.value)
    newer = ours.model_copy(update={"generation": 4})
    assert Outcome.UPDATED == await cache.write_through("won.t.ns.a", newer)
    await bus.nc.flush()
    assert [] == asked, "the cache asked the stream for a revision the conflict had told"
    stored = await bus.observed.get("won.t.ns.a")
    assert stored is not None and newer == stored.value
    await tap.unsubscribe()
    await cache.stop()


async def test_a_write_at_a_revision_read_is_held_at_once_and_a_lost_race_holds_nothing(bus: Bus) -> None:
    """A writer that decided on what it read writes against that revision: it reads its own write at once (no
    catch-up), and a write that lost to someone else's is refused and leaves the cache as the stream has it."""
    cache = KVCache(bus.observed, "at.>")
    await cache.start()
    first = report("at").model_copy(update={"generation": 1})
    created = await cache.write_at("at.t.ns.a", first, None)
    held = cache.get("at.t.ns.a")
    assert held is not None and (created, first) == (held.revision, held.value)

    theirs = first.model_copy(update={"generation": 2})
    await bus.observed.update("at.t.ns.a", theirs, created)
    with pytest.raises(Conflict):
        await cache.write_at("at.t.ns.a", first.model_copy(update={"generation": 3}), created)
    await cache.catch_up()
    assert theirs == cache.get("at.t.ns.a").value  # type: ignore[union-attr]
    with pytest.raises(Conflict):
        await cache.write_at("at.t.ns.a", first, None)  # it exists: a create loses too

    await cache.stop()  # no watch from here on: what the cache holds next, only its own write put there
    revision = await cache.write_at("at.t.ns.b", first, None)
    held = cache.get("at.t.ns.b")
    assert held is not None and (revision, first) == (held.revision, held.value)


async def test_a_key_deleted_is_created_again_in_one_write(bus: Bus) -> None:
    """A key the cache saw deleted is created again against its tombstone: one publish, not a refused create and a
    read of the tombstone first. A tombstone that is no longer the key's last word is refused: nothing is overwritten."""
    cache = KVCache(bus.observed, "again.>")
    await cache.start()
    first = report("again").model_copy(update={"generation": 1})
    await cache.write_at("again.t.ns.a", first, None)
    await bus.observed.delete("again.t.ns.a")
    await until(lambda: cache.get("again.t.ns.a") is None)

    attempts: list[bytes] = []  # every publish on the key's subject, those JetStream refuses included

    async def count(msg: Msg) -> None:
        attempts.append(msg.data)

    watching = await bus.nc.subscribe(kv_subject(Bucket.OBSERVED, "again.t.ns.a"), cb=count)
    await bus.nc.flush()
    revision = await cache.write_at("again.t.ns.a", first, None)
    await bus.nc.flush()
    assert 1 == len(attempts)
    stored = await bus.observed.get("again.t.ns.a")
    assert stored is not None and revision == stored.revision

    await cache.stop()  # from here the cache sees nothing: its tombstone goes stale
    await bus.observed.delete("again.t.ns.b")
    fresh = KVCache(bus.observed, "again.>")
    await fresh.start()
    await fresh.write_at("again.t.ns.b", first, None)
    await bus.observed.delete("again.t.ns.b")
    await until(lambda: fresh.get("again.t.ns.b") is None)
    await fresh.stop()
    await bus.observed.put("again.t.ns.b", first)  # created again behind its back
    with pytest.raises(Conflict):
        await fresh.write_at("again.t.ns.b", first.model_copy(update={"generation": 9}), None)
    stored = await bus.observed.get("again.t.ns.b")
    assert stored is not None and first == stored.value
    await watching.unsubscribe()


def test_a_lease_older_than_the_threshold_is_silence_that_names_its_holder() -> None:
    lease = Lease(holder="member-2", component="dataplane-agent", renewed_at=T0, renew_every_seconds=5)
    threshold = timedelta(seconds=20)
    assert silence_of(lease, "dataplane-agent", "member-2", T0 + threshold, threshold) is None
    late = silence_of(lease, "dataplane-agent", "member-2", T0 + threshold + timedelta(seconds=1), threshold)
    assert late is not None and "dataplane-agent of member-2" in late and "2026-01-01T00:00:00" in late
    assert "never" in (silence_of(None, "dataplane-agent", "member-9", T0, threshold) or "")


async def test_a_holder_that_stops_renewing_is_told_silent_and_then_back(bus: Bus) -> None:
    transitions: list[tuple[str, bool]] = []
    liveness = Liveness(
        bus.leases, LeaseHolder.AGENT, timedelta(seconds=0.5), lambda c, alive: transitions.append((c, alive))
    )
    renewing = asyncio.create_task(renew_lease(bus.leases, LeaseHolder.AGENT, "lease-a", 0.1))
    await asyncio.sleep(0.2)
    await liveness.start()
    judging = asyncio.create_task(liveness.run())
    assert liveness.silence("lease-a") is None
    await asyncio.sleep(1.0)  # renewed every 0.1 s: an idle holder is never silent
    assert [] == transitions
    renewing.cancel()
    await until(lambda: ("lease-a", False) in transitions)
    assert "dataplane-agent of lease-a" in (liveness.silence("lease-a") or "")
    renewing = asyncio.create_task(renew_lease(bus.leases, LeaseHolder.AGENT, "lease-a", 0.1))
    await until(lambda: transitions[-1] == ("lease-a", True))
    renewing.cancel()
    judging.cancel()
    await asyncio.gather(renewing, judging, return_exceptions=True)
    assert await bus.leases.get(lease_key(LeaseHolder.AGENT, "lease-a")) is not None


async def test_a_holder_whose_probe_is_slow_but_answers_is_never_silent(bus: Bus) -> None:
    """A loaded API server answers each probe late, within the period: renewals keep their cadence (every
    0.4 s), so slow probes never stretch the gap between two renewals past the threshold (0.6 s). Renewing a
    period after each probe instead would leave gaps of 0.65 s. The write after a probe has 0.15 s before the next
    beat: on a loaded CI machine 0.05 s was not always enough."""
    transitions: list[tuple[str, bool]] = []
    liveness = Liveness(
        bus.leases, LeaseHolder.AGENT, timedelta(seconds=0.6), lambda c, alive: transitions.append((c, alive))
    )

    async def slow_but_answering() -> bool:
        await asyncio.sleep(0.25)
        return True

    renewing = asyncio.create_task(renew_lease(bus.leases, LeaseHolder.AGENT, "lease-slow", 0.4, slow_but_answering))
    await asyncio.sleep(0.5)
    await liveness.start()
    judging = asyncio.create_task(liveness.run())
    await asyncio.sleep(2.0)
    renewing.cancel()
    judging.cancel()
    await asyncio.gather(renewing, judging, return_exceptions=True)
    ours = [t for t in transitions if t[0] == "lease-slow"]  # other tests' leases on this server go silent too
    assert [] == ours, "a slow but answering holder was judged silent"


async def test_listing_a_bucket_leaves_no_consumer_behind(bus: Bus) -> None:
    """Each short watch deletes its consumer: a busy reader never piles up to the server's limit per stream."""
    await bus.observed.put("lists.t.ns.a", report("lists"))
    before = await consumers(bus, Bucket.OBSERVED)
    for _ in range(50):
        assert ["lists.t.ns.a"] == [e.key for e in await bus.observed.entries("lists.>")]
    assert before == await consumers(bus, Bucket.OBSERVED)


async def test_a_value_nobody_can_read_is_skipped_and_counted_and_the_watch_shows_no_backlog(bus: Bus) -> None:
    """An operator sees a bad writer on ``fedstate_bus_consume_errors_total``; the cache keeps the good keys."""
    sample = "fedstate_bus_consume_errors_total"
    before = REGISTRY.get_sample_value(sample, {"source": str(Bucket.OBSERVED)}) or 0
    cache = KVCache(bus.observed, "garbled.>")
    await cache.start()
    await bus.js.publish(kv_subject(Bucket.OBSERVED, "garbled.t.ns.bad"), b"not json")
    await bus.observed.put("garbled.t.ns.good", report("garbled"))
    await until(lambda: cache.get("garbled.t.ns.good") is not None)
    assert before + 1 == REGISTRY.get_sample_value(sample, {"source": str(Bucket.OBSERVED)})
    assert cache.get("garbled.t.ns.bad") is None
    assert 0 == REGISTRY.get_sample_value("fedstate_kv_watch_pending_changes", {"bucket": str(Bucket.OBSERVED)})
    await cache.stop()


async def test_an_agent_that_publishes_a_new_sealing_key_is_told_once(bus: Bus) -> None:
    """The orchestrator seals a cluster's credentials again when its agent's lease names a new key."""
    new_keys: list[str] = []
    liveness = Liveness(
        bus.leases, LeaseHolder.AGENT, timedelta(seconds=5), lambda c, alive: None, on_new_public_key=new_keys.append
    )
    renewing = asyncio.create_task(renew_lease(bus.leases, LeaseHolder.AGENT, "keyed-a", 0.1, None, ("k1", "f1")))
    await asyncio.sleep(0.3)
    await liveness.start()
    judging = asyncio.create_task(liveness.run())
    assert "k1" == liveness.public_key("keyed-a")
    await asyncio.sleep(0.3)
    assert [] == new_keys, "renewals of the same key are no news"
    renewing.cancel()
    renewing = asyncio.create_task(renew_lease(bus.leases, LeaseHolder.AGENT, "keyed-a", 0.1, None, ("k2", "f2")))
    await until(lambda: ["keyed-a"] == new_keys)
    assert "k2" == liveness.public_key("keyed-a")
    renewing.cancel()
    judging.cancel()
    await asyncio.gather(renewing, judging, return_exceptions=True)


async def test_a_holder_with_a_long_period_renews_at_once_when_asked(bus: Bus) -> None:
    """A collector renews once per look period, and at once when it can see its cluster again."""
    renewals: list[str] = []
    key = lease_key(LeaseHolder.COLLECTOR, "long-a")
    cache = KVCache(bus.leases, key, on_change=lambda k, entry: renewals.append(k) if entry is not None else None)
    await cache.start()
    renew_now = asyncio.Event()
    renewing = asyncio.create_task(
        renew_lease(bus.leases, LeaseHolder.COLLECTOR, "long-a", 3600, None, renew_now=renew_now)
    )
    await until(lambda: len(renewals) == 1)
    renew_now.set()
    await until(lambda: len(renewals) == 2)
    renewing.cancel()
    await asyncio.gather(renewing, return_exceptions=True)
    await cache.stop()


def test_holders_that_started_apart_renew_on_the_same_beats() -> None:
    """Ten clusters' agents in one process renew together (one wakeup, and their readers take them in one
    batch), each within a period of its last renewal, whenever it started or however long its probe took."""
    renewed_at = (1000.0, 1001.3, 1004.99)
    assert [1005.0] * 3 == pytest.approx([t + until_next_beat(t, 5.0) for t in renewed_at])
    assert pytest.approx(1010.0) == 1009.7 + until_next_beat(1009.7, 5.0)  # its probe took 7.2 s: the next beat
    assert 0 < until_next_beat(1005.0, 5.0) <= 5.0
