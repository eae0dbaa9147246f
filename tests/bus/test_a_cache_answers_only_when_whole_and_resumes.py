"""A KV cache answers only once it holds the whole bucket, sees every write made before a read, and
resumes from its last revision when the NATS server comes back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js.api import ConsumerConfig, ConsumerInfo

from fedstate.bus.cache import KVCache
from fedstate.bus.connection import Bus, connect
from fedstate.bus.names import Bucket, kv_stream
from fedstate.bus.ordered import BEHIND_SECONDS
from fedstate.models.dataplane import DataPlaneStatus
from fedstate.natsserver import NatsServer, free_port, start_nats_server

from .test_kv_cache_and_leases import T0, until

KEYS = 300


def report(cluster: str, generation: int = 0) -> DataPlaneStatus:
    return DataPlaneStatus(cluster=cluster, observed_at=T0, generation=generation)


async def write(bus: Bus, prefix: str, count: int, generation: int = 0) -> dict[str, DataPlaneStatus]:
    """``count`` keys under ``prefix``, written concurrently from ``bus``."""
    values = {f"{prefix}.t.ns.i{n}": report(prefix, generation) for n in range(count)}
    await asyncio.gather(*(bus.observed.put(key, value) for key, value in values.items()))
    return values


async def test_a_cache_has_every_key_as_soon_as_start_returns(bus: Bus) -> None:
    """Started on a bucket of hundreds of keys, the cache holds all of them, with their values, at once."""
    prefix = f"whole{uuid.uuid4().hex[:6]}"
    written = await write(bus, prefix, KEYS)
    cache = KVCache(bus.observed, f"{prefix}.>")
    await cache.start()
    try:
        assert cache.ready
        assert written == {entry.key: entry.value for entry in cache}
    finally:
        await cache.stop()


async def test_a_read_after_catch_up_sees_every_write_made_before_it(bus: Bus, nats_server: NatsServer) -> None:
    """Writes from another connection, then ``catch_up``: the cache shows every one of them, without polling."""
    prefix = f"fresh{uuid.uuid4().hex[:6]}"
    cache = KVCache(bus.observed, f"{prefix}.>")
    await cache.start()
    writer = await connect(nats_server.url, name="test-writer")
    try:
        for generation in (1, 2):
            written = await write(writer, prefix, KEYS, generation)
            await writer.observed.delete(f"{prefix}.t.ns.i0")
            del written[f"{prefix}.t.ns.i0"]
            await cache.catch_up()
            assert written == {entry.key: entry.value for entry in cache}
    finally:
        await writer.close()
        await cache.stop()


async def test_an_empty_filter_is_ready_at_once_and_stop_deletes_the_consumer(bus: Bus) -> None:
    """Nothing matches: start returns; stopping leaves no consumer behind on the stream."""
    before = (await bus.js.stream_info(kv_stream(Bucket.OBSERVED))).state.consumer_count
    cache = KVCache(bus.observed, f"none{uuid.uuid4().hex[:6]}.>")
    await cache.start()
    assert cache.ready and len(cache) == 0
    await cache.stop()
    assert before == (await bus.js.stream_info(kv_stream(Bucket.OBSERVED))).state.consumer_count


async def put_once_jetstream_answers(bus: Bus, key: str, value: DataPlaneStatus, attempts: int = 30) -> None:
    """A restarted server answers JetStream requests only once it has recovered its streams."""
    for _ in range(attempts):
        try:
            await bus.observed.put(key, value)
            return
        except (NatsError, TimeoutError):
            await asyncio.sleep(0.5)
    raise AssertionError(f"JetStream did not come back after {attempts} attempts")


@pytest.fixture
async def restartable(tmp_path: Path) -> AsyncIterator[list[NatsServer]]:
    """A server of this test's own, on a fixed port and store, that the test may stop and start again."""
    servers = [start_nats_server(tmp_path / "js", port=free_port())]
    yield servers
    servers[-1].stop()


async def test_after_a_server_restart_the_cache_resumes_where_it_was(restartable: list[NatsServer]) -> None:
    """The server restarts: the cache takes in the writes made since, on one consumer that delivers only those
    (nothing is loaded again)."""
    server = restartable[0]
    bus = await connect(server.url, name="test-resume")
    try:
        await write(bus, "resume", 20)
        changed: list[str] = []
        cache = KVCache(bus.observed, "resume.>", on_change=lambda key, _: changed.append(key))
        await cache.start()
        changed.clear()
        server.stop()
        restartable.append(start_nats_server(server.store_dir, port=int(server.url.rsplit(":", 1)[1])))
        await until(lambda: bus.nc.stats["reconnects"] > 0, timeout=30)
        await put_once_jetstream_answers(bus, "resume.t.ns.new", report("resume", 7))
        await until(lambda: cache.get("resume.t.ns.new") is not None, timeout=60)
        assert ["resume.t.ns.new"] == changed
        assert 21 == len(cache)
        [consumer] = await bus.js.consumers_info(kv_stream(Bucket.OBSERVED))
        assert consumer.delivered is not None and 1 == consumer.delivered.consumer_seq  # the new write only
        await cache.stop()
    finally:
        await bus.close()


async def test_a_consumer_deleted_under_a_cache_is_created_again_from_where_it_was(bus: Bus) -> None:
    """Someone deletes the cache's consumer: its heartbeats stop, a new consumer (a new name) takes over from the
    revision after the last one taken in, and the writes made meanwhile arrive, each once."""
    prefix = f"gone{uuid.uuid4().hex[:6]}"
    await write(bus, prefix, 3)
    changed: list[str] = []
    cache = KVCache(bus.observed, f"{prefix}.>", on_change=lambda key, _: changed.append(key))
    await cache.start()
    try:
        changed.clear()
        [first] = [
            c.name
            for c in await bus.js.consumers_info(kv_stream(Bucket.OBSERVED))
            if prefix in str(c.config.filter_subject)
        ]
        await bus.js.delete_consumer(kv_stream(Bucket.OBSERVED), first)
        await bus.observed.put(f"{prefix}.t.ns.late", report(prefix, 2))
        await until(lambda: cache.get(f"{prefix}.t.ns.late") is not None, timeout=60)
        assert [f"{prefix}.t.ns.late"] == changed
        [second] = [
            c.name
            for c in await bus.js.consumers_info(kv_stream(Bucket.OBSERVED))
            if prefix in str(c.config.filter_subject)
        ]
        assert first != second
    finally:
        await cache.stop()


async def test_a_re_created_consumer_that_stays_behind_the_stream_is_replaced(
    bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A consumer re-created while a NATS cluster moves can live and heartbeat yet deliver nothing: after a lost
    meta-leader, a spec written just before the loss never reached the scheduler's watch. Each re-created
    consumer is checked against the stream's latest matching revision and replaced while it stays behind."""
    prefix = f"behind{uuid.uuid4().hex[:6]}"
    stream = kv_stream(Bucket.OBSERVED)
    delivered: list[int] = []

    async def on_message(msg: Msg) -> None:
        delivered.append(msg.metadata.sequence.stream)

    await bus.observed.put(f"{prefix}.t.ns.first", report(prefix))
    watch = await bus.observed.subscribe(f"{prefix}.>", on_message, headers_only=True)
    try:
        await until(lambda: 1 == len(delivered))
        await bus.js.delete_consumer(stream, watch.name)  # the watch hears nothing more
        late = await bus.observed.put(f"{prefix}.t.ns.late", report(prefix, 2))
        create = bus.js.add_consumer

        async def stuck_once(name: str, config: ConsumerConfig, **kwargs: Any) -> ConsumerInfo:
            """The next consumer starts far past the stream's end: alive, heartbeating, never delivering."""
            monkeypatch.setattr(bus.js, "add_consumer", create)
            return await create(name, replace(config, opt_start_seq=late + 1_000_000), **kwargs)

        monkeypatch.setattr(bus.js, "add_consumer", stuck_once)
        await watch.restart("the test moved the cluster")
        await until(lambda: late in delivered, timeout=BEHIND_SECONDS * 3)
    finally:
        await bus.observed.unsubscribe(watch)


async def test_a_cache_started_while_the_server_is_away_starts_once_it_is_back(restartable: list[NatsServer]) -> None:
    """A service starting on a loaded machine, or while NATS restarts, waits for its watch: creating the consumer
    is asked again until JetStream answers, and the cache then holds every key."""
    server = restartable[0]
    bus = await connect(server.url, name="test-start-away")
    try:
        await write(bus, "away", 5)
        server.stop()
        cache = KVCache(bus.observed, "away.>")
        starting = asyncio.ensure_future(cache.start())
        await asyncio.sleep(6)  # longer than a JetStream request's timeout: at least one create went unanswered
        assert not starting.done()
        restartable.append(start_nats_server(server.store_dir, port=int(server.url.rsplit(":", 1)[1])))
        await asyncio.wait_for(starting, 90)
        assert 5 == len(cache)
        await cache.stop()
    finally:
        await bus.close()
