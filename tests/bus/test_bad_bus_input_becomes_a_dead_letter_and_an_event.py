"""Bad bus input never stops a reader: a value that is not JSON, of an unknown schema major, failing validation or
larger than a value may be is skipped, the reader goes on with the next good value, and the value is kept in
``FS_DEAD_LETTERS`` with its cause and reason and announced once as a ``DeadLetter`` Warning event. A flood of bad
values announces at most a burst of events, and the next announcement says how many were not."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fedstate.bus import deadletters, events
from fedstate.bus.cache import KVCache
from fedstate.bus.connection import Bus, connect
from fedstate.bus.deadletters import EVENT_BURST, EVENT_INTERVAL_SECONDS, DeadLetters, EventBudget, KeptLetter
from fedstate.bus.envelope import InvalidValue, Unreadable
from fedstate.bus.limits import MAX_VALUE_BYTES
from fedstate.bus.names import EVENTS_STREAM, Bucket, InstanceKey, Kind, kv_subject
from fedstate.bus.store import TypedKV
from fedstate.cli.main import app
from fedstate.models.cluster import ClusterSnapshot
from fedstate.models.events import Event
from fedstate.natsserver import NatsServer, start_nats_server

from .test_a_nats_cluster_keeps_three_copies_through_a_lost_server import until

# One bad value of each class, and a word its reason must hold.
BAD: dict[Unreadable, tuple[bytes, str]] = {
    Unreadable.NOT_JSON: (b'{"schemaVersion": "1.0", "data": {', "not JSON"),
    Unreadable.UNKNOWN_SCHEMA: (b'{"schemaVersion": "2.0", "data": {"name": "x", "vip": "1"}}', "'2.0'"),
    Unreadable.INVALID: (b'{"schemaVersion": "1.0", "data": {"name": 7, "vip": "1"}}', "name"),
    Unreadable.OVERSIZED: (
        b'{"schemaVersion": "1.0", "data": {"name": "x", "vip": "' + b"1" * MAX_VALUE_BYTES + b'"}}',
        "at most 1.0 MiB",
    ),
}
GOOD = ClusterSnapshot(name="good", vip="10.0.0.1", observed_at=datetime(2026, 1, 1, tzinfo=UTC))


@pytest.fixture(scope="module")
def roomy_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """A server taking messages above NATS's default 1 MiB, as an operator may configure one: the only way an
    oversized value gets stored."""
    config = tmp_path_factory.mktemp("roomy") / "nats.conf"
    config.write_text("max_payload: 4194304\n")
    server = start_nats_server(Path(config.parent) / "jetstream", config=config)
    yield server
    server.stop()


@pytest.fixture
async def writer(roomy_nats: NatsServer) -> AsyncIterator[Bus]:
    bus = await connect(roomy_nats.url, name="writer")
    yield bus
    await bus.close()


@pytest.fixture
async def reader(roomy_nats: NatsServer) -> AsyncIterator[Bus]:
    bus = await connect(roomy_nats.url, name=f"reader-{uuid.uuid4().hex[:6]}")
    yield bus
    await bus.close()


async def letters_of(bus: Bus, reader: Bus, count: int = 1) -> list[KeptLetter]:
    """The dead letters ``reader`` kept, once there are ``count``."""
    name = reader.dead_letters.reader

    async def enough() -> bool:
        return len(await deadletters.kept(bus.js, name)) >= count

    await until(enough)
    return await deadletters.kept(bus.js, name)


async def announcements(bus: Bus, reader: Bus) -> list[Event]:
    return [e for e in await events.recent(bus.js, limit=10_000) if e.component == reader.dead_letters.reader]


async def write(bus: Bus, bucket: Bucket, key: str, raw: bytes) -> int:
    return (await bus.js.publish(kv_subject(bucket, key), raw)).seq


@pytest.mark.parametrize("cause", list(Unreadable))
async def test_a_cache_skips_a_bad_value_goes_on_and_keeps_and_announces_it(
    writer: Bus, reader: Bus, cause: Unreadable
) -> None:
    raw, because = BAD[cause]
    prefix = uuid.uuid4().hex[:6]
    bad, good = f"{prefix}.bad", f"{prefix}.good"
    revision = await write(writer, Bucket.CLUSTERS, bad, raw)
    await writer.clusters.put(good, GOOD)
    cache = KVCache(reader.clusters, f"{prefix}.*")
    await cache.start()
    try:
        assert cache.get(bad) is None and cache.get(good) is not None
        [letter] = await letters_of(writer, reader)
        assert (Bucket.CLUSTERS, bad, revision, cause) == (letter.source, letter.key, letter.revision, letter.cause)
        assert because in letter.reason and len(raw) == letter.size and raw.startswith(letter.payload)
        [event] = await announcements(writer, reader)
        assert ("Warning", "DeadLetter") == (event.type, event.reason)
        assert bad in event.message and because in event.message
        assert f"_bus/{reader.dead_letters.reader}/{Bucket.CLUSTERS}" == event.instance
    finally:
        await cache.stop()


async def test_a_bad_value_over_a_good_one_is_not_a_deletion(writer: Bus, reader: Bus) -> None:
    """The cache keeps the last good value and tells nobody: an agent told its spec was gone would tear down."""
    key = f"{uuid.uuid4().hex[:6]}.held"
    await writer.clusters.put(key, GOOD)
    told: list[ClusterSnapshot | None] = []
    cache = KVCache(reader.clusters, key, on_change=lambda _, entry: told.append(entry.value if entry else None))
    await cache.start()
    try:
        await write(writer, Bucket.CLUSTERS, key, BAD[Unreadable.UNKNOWN_SCHEMA][0])  # a writer of a newer major
        await cache.catch_up()
        held = cache.get(key)
        assert held is not None and GOOD == held.value and [GOOD] == told
        newer = GOOD.model_copy(update={"vip": "10.0.0.2"})
        await writer.clusters.put(key, newer)
        await cache.catch_up()
        assert [GOOD, newer] == told, "the next good value is taken as usual"
    finally:
        await cache.stop()


async def test_a_read_of_one_bad_key_raises_keeps_it_and_a_listing_skips_it(writer: Bus, reader: Bus) -> None:
    raw, _ = BAD[Unreadable.INVALID]
    prefix = uuid.uuid4().hex[:6]
    bad, good = f"{prefix}.bad", f"{prefix}.good"
    await write(writer, Bucket.CLUSTERS, bad, raw)
    await writer.clusters.put(good, GOOD)
    with pytest.raises(InvalidValue):
        await reader.clusters.get(bad)  # a reconcile that reads it fails, and is retried: never a deletion
    [letter] = await letters_of(writer, reader)
    assert bad == letter.key
    assert [good] == [entry.key for entry in await reader.clusters.entries(f"{prefix}.*")]
    assert 1 == len(await announcements(writer, reader)), "the same revision is announced once"


async def test_an_unreadable_event_is_skipped_and_kept(writer: Bus, reader: Bus) -> None:
    instance = InstanceKey("default", "ns", Kind.MULTICLOUD_MONGODB, f"rs-{uuid.uuid4().hex[:6]}")
    await writer.js.publish(instance.events_subject, b"garbage")
    await events.emit(writer.js, instance, reason="Scheduled", message="after the garbage", component="test")
    found = await events.recent(reader.js, instance, 100, reader.dead_letters)
    assert ["after the garbage"] == [e.message for e in found]
    [letter] = await letters_of(writer, reader)
    assert (EVENTS_STREAM, instance.events_subject, Unreadable.NOT_JSON) == (letter.source, letter.key, letter.cause)


async def test_a_flood_of_bad_values_announces_a_burst_then_says_how_many_were_not(writer: Bus, reader: Bus) -> None:
    now = [0.0]
    flooded = DeadLetters(reader.js, reader.dead_letters.reader, EventBudget(clock=lambda: now[0]))
    clusters = TypedKV(reader.js, Bucket.CLUSTERS, ClusterSnapshot, dead_letters=flooded)
    raw, _ = BAD[Unreadable.NOT_JSON]
    prefix = uuid.uuid4().hex[:6]
    flood = EVENT_BURST + 15
    for index in range(flood):
        await write(writer, Bucket.CLUSTERS, f"{prefix}.{index}", raw)
    assert [] == [e.key for e in await clusters.entries(f"{prefix}.*")]
    assert flood == len(await letters_of(writer, reader, flood))
    assert EVENT_BURST == len(await announcements(writer, reader))
    now[0] += EVENT_INTERVAL_SECONDS  # room for one more
    await write(writer, Bucket.CLUSTERS, f"{prefix}.last", raw)
    await clusters.entries(f"{prefix}.last")
    told = await announcements(writer, reader)
    assert EVENT_BURST + 1 == len(told) and "15 more dead letters" in told[-1].message


def test_the_event_budget_allows_a_burst_then_one_per_interval() -> None:
    now = [0.0]
    budget = EventBudget(burst=2, interval=10.0, clock=lambda: now[0])
    assert [0, 0, None, None] == [budget.take() for _ in range(4)]
    now[0] = 5.0
    assert budget.take() is None
    now[0] = 10.0
    assert 3 == budget.take(), "the three not announced"
    now[0] = 1000.0
    assert [0, 0, None] == [budget.take() for _ in range(3)], "never more than the burst, however long the quiet"


async def test_an_operator_lists_a_reader_s_dead_letters_and_purges_them(
    writer: Bus, reader: Bus, roomy_nats: NatsServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no stack here: the command finds the server through the environment
    monkeypatch.setenv("FEDSTATE_NATS_URL", roomy_nats.url)
    raw, _ = BAD[Unreadable.INVALID]
    key = f"{uuid.uuid4().hex[:6]}.bad"
    await write(writer, Bucket.CLUSTERS, key, raw)
    await reader.clusters.entries(key)
    await letters_of(writer, reader)
    name = reader.dead_letters.reader

    def fedstate(*args: str) -> list[dict[str, Any]]:
        result = CliRunner().invoke(app, ["bus", "deadletters", *args])
        assert 0 == result.exit_code, result.output
        return [json.loads(line) for line in result.stdout.splitlines()]

    [shown] = await asyncio.to_thread(fedstate, "--reader", name, "--value")
    assert (name, "fs-clusters", key, "Invalid") == (shown["reader"], shown["bucket"], shown["key"], shown["cause"])
    assert {"name": 7, "vip": "1"} == shown["value"]["data"]
    await asyncio.to_thread(fedstate, "purge", "--reader", name)
    assert [] == await asyncio.to_thread(fedstate, "--reader", name)
