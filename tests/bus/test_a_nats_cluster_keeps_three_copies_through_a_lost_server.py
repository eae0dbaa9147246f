"""A NATS cluster of three servers (issue 12, item 2; decision 0016): the admin's bootstrap puts every bucket and
stream on all three (R3); a cache keeps going when the leader of the stream it watches is killed; a killed
server, started again on its own store, catches up with what was written while it was down."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from nats.errors import Error as NatsError

from fedstate.bus import connection
from fedstate.bus.cache import KVCache
from fedstate.bus.connection import Bus, bootstrap_layout, connect
from fedstate.bus.names import DEAD_LETTERS_STREAM, EVENTS_STREAM, Bucket, kv_stream
from fedstate.models.dataplane import DataPlaneStatus
from fedstate.natsserver import (
    ClusterPeer,
    NatsServer,
    cluster_peers,
    jetstream_report,
    start_nats_server,
    wait_for_jetstream,
)

from .test_kv_cache_and_leases import T0

T = TypeVar("T")
REPLICAS = 3
KEYS = 50
EVERY_STREAM = [*(kv_stream(bucket) for bucket in Bucket), EVENTS_STREAM, DEAD_LETTERS_STREAM]


@dataclass
class NatsCluster:
    """Three clustered nats-servers on loopback, each with its own store, as ``fedstate up --nats-cluster 3``."""

    root: Path
    peers: list[ClusterPeer]
    servers: dict[str, NatsServer]
    ports: dict[str, int]

    @classmethod
    def start(cls, root: Path, attempts: int = 3) -> NatsCluster:
        # Its ports are found free, then bound by nats-server: in between, another process can take one (any
        # outgoing connection's ephemeral port; a CI run saw it). A cluster that could not start is started
        # again on other ports.
        for attempt in range(1, attempts + 1):
            cluster = cls(root / f"attempt-{attempt}", cluster_peers(REPLICAS), {}, {})
            try:
                for peer in cluster.peers:
                    cluster.restart(peer.name)
            except RuntimeError:
                cluster.stop()
                if attempt == attempts:
                    raise
                continue
            wait_for_jetstream(cluster.peers)
            return cluster
        raise AssertionError("unreachable")

    @property
    def urls(self) -> list[str]:
        return [server.url for server in self.servers.values()]

    def peer(self, name: str) -> ClusterPeer:
        return next(p for p in self.peers if p.name == name)

    def kill(self, name: str) -> None:
        """SIGKILL: no goodbye to the other servers nor to the clients."""
        process = self.servers[name].process
        process.kill()
        process.wait()

    def restart(self, name: str) -> None:
        server = start_nats_server(self.root / name, self.ports.get(name), peer=self.peer(name))
        self.servers[name], self.ports[name] = server, int(server.url.rsplit(":", 1)[1])

    def stream_detail(self, name: str, stream: str) -> dict[str, Any]:
        """``stream`` as server ``name`` holds it (its own copy: ``state.last_seq``, ``cluster.leader``)."""
        report = jetstream_report(self.peer(name), accounts="true", streams="true")
        details = [d for account in report.get("account_details", []) for d in account.get("stream_detail") or []]
        return next(d for d in details if d["name"] == stream)

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    cluster = NatsCluster.start(tmp_path)
    yield cluster
    cluster.stop()


@pytest.fixture
async def cluster_bus(nats_cluster: NatsCluster) -> AsyncIterator[Bus]:
    await bootstrap_layout(nats_cluster.urls, replicas=REPLICAS)
    bus = await connect(nats_cluster.urls, name=f"test-{uuid.uuid4().hex[:6]}", create_layout=False)
    yield bus
    await bus.close()


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 60.0) -> None:
    """Poll ``check`` (a liveness bound, not a speed one: elections and catch-up on a busy machine)."""
    async with asyncio.timeout(timeout):
        while not await check():  # noqa: ASYNC110 - polling the cluster
            await asyncio.sleep(0.1)


async def retried(work: Callable[[], Awaitable[T]], timeout: float = 60.0) -> T:
    """``work`` until it succeeds: a request in flight when its server died, or sent while a new leader is being
    elected, times out (docs/operations.md), and every service retries it as this does."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                return await work()
            except (NatsError, TimeoutError):
                await asyncio.sleep(0.1)


def report(cluster: str, generation: int) -> DataPlaneStatus:
    return DataPlaneStatus(cluster=cluster, observed_at=T0, generation=generation)


async def write(bus: Bus, prefix: str, generation: int) -> dict[str, DataPlaneStatus]:
    values = {f"{prefix}.t.ns.i{n}": report(prefix, generation) for n in range(KEYS)}
    for key, value in values.items():
        await retried(lambda: bus.observed.put(key, value))  # noqa: B023 - awaited at once
    return values


async def test_every_bucket_and_stream_is_kept_by_the_three_servers(cluster_bus: Bus) -> None:
    for stream in EVERY_STREAM:
        info = await cluster_bus.js.stream_info(stream)
        assert REPLICAS == info.config.num_replicas, stream
        assert info.cluster is not None and info.cluster.leader
        assert REPLICAS - 1 == len(info.cluster.replicas or []), stream


async def test_a_cache_keeps_going_when_the_leader_of_its_stream_is_killed(
    nats_cluster: NatsCluster, cluster_bus: Bus
) -> None:
    """Writes before and after the stream's leader dies: a later ``catch_up`` shows every one of them."""
    prefix = f"moved{uuid.uuid4().hex[:6]}"
    stream = kv_stream(Bucket.OBSERVED)
    cache = KVCache(cluster_bus.observed, f"{prefix}.>")
    await cache.start()
    writer = await connect(nats_cluster.urls, name="test-writer", create_layout=False)
    try:
        written = await write(writer, prefix, 1)
        await cache.catch_up()
        leader = (await cluster_bus.js.stream_info(stream)).cluster.leader  # type: ignore[union-attr]
        assert leader is not None
        nats_cluster.kill(leader)
        await until(lambda: _led_by_another(cluster_bus, stream, leader))
        written = await write(writer, prefix, 2)
        await cache.catch_up()
        assert written == {entry.key: entry.value for entry in cache}
    finally:
        await cache.stop()
        await writer.close()


async def test_a_watch_whose_consumer_dies_with_another_server_resumes_at_once(
    nats_cluster: NatsCluster, cluster_bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The watcher stays connected to its server while the one holding its consumer dies: the INFO its server
    sends (a peer left) re-creates the consumer, long before two missed heartbeats would (decision 0024)."""
    monkeypatch.setattr(connection, "IDLE_HEARTBEAT_SECONDS", 60.0)  # two missed ones: two minutes
    names = [peer.name for peer in nats_cluster.peers]
    watcher = await connect(nats_cluster.servers[names[0]].url, name="test-watcher", create_layout=False)
    prefix = f"lost{uuid.uuid4().hex[:6]}"
    cache, holder = await _cache_held_elsewhere(watcher, prefix, names[0])
    writer = await connect(
        [nats_cluster.servers[name].url for name in names if name != holder], name="test-writer", create_layout=False
    )
    try:
        nats_cluster.kill(holder)
        written = await write(writer, prefix, 1)
        await until(lambda: _holds(cache, written), timeout=30)  # a liveness bound, a quarter of the heartbeats'
    finally:
        await cache.stop()
        await writer.close()
        await watcher.close()


async def _cache_held_elsewhere(bus: Bus, prefix: str, connected_to: str) -> tuple[KVCache[DataPlaneStatus], str]:
    """A started cache whose consumer JetStream put on another server than ``connected_to`` (it picks any of the
    stream's), and that server's name."""
    stream = kv_stream(Bucket.OBSERVED)
    for _ in range(30):
        cache = KVCache(bus.observed, f"{prefix}.>")
        await cache.start()
        holders = {c.name: c.cluster.leader for c in await bus.js.consumers_info(stream) if c.cluster is not None}
        holder = next(h for name, h in holders.items() if name.startswith("test-watcher-"))
        if holder not in (None, connected_to):
            return cache, holder
        await cache.stop()
    raise AssertionError(f"every consumer was put on {connected_to}")


async def _holds(cache: KVCache[DataPlaneStatus], written: dict[str, DataPlaneStatus]) -> bool:
    return all((held := cache.get(key)) is not None and held.value == value for key, value in written.items())


async def _led_by_another(bus: Bus, stream: str, lost: str) -> bool:
    try:
        info = await bus.js.stream_info(stream)
    except (NatsError, TimeoutError):  # no leader for a moment: the API does not answer
        return False
    return info.cluster is not None and info.cluster.leader not in (None, lost)


async def test_a_killed_server_started_again_catches_up_with_what_it_missed(
    nats_cluster: NatsCluster, cluster_bus: Bus
) -> None:
    """Its own copy of the stream (``/jsz`` of that server) ends at the leader's last sequence, and it can lead."""
    stream = kv_stream(Bucket.OBSERVED)
    prefix = f"missed{uuid.uuid4().hex[:6]}"
    leader = (await cluster_bus.js.stream_info(stream)).cluster.leader  # type: ignore[union-attr]
    lost = next(p.name for p in nats_cluster.peers if p.name != leader)
    nats_cluster.kill(lost)
    written = await write(cluster_bus, prefix, 1)
    nats_cluster.restart(lost)
    last = (await retried(lambda: cluster_bus.js.stream_info(stream))).state.last_seq

    await until(lambda: _holds_up_to(nats_cluster, lost, stream, last))
    await retried(lambda: _make_leader(cluster_bus, stream, lost))
    await until(lambda: _led_by(nats_cluster, lost, stream))
    held = await retried(lambda: cluster_bus.observed.entries(f"{prefix}.>"))
    assert written == {e.key: e.value for e in held}


async def _holds_up_to(cluster: NatsCluster, name: str, stream: str, last: int) -> bool:
    try:
        detail = await asyncio.to_thread(cluster.stream_detail, name, stream)
    except (OSError, StopIteration):  # still starting, or not yet told about the stream
        return False
    return bool(detail["state"]["last_seq"] >= last)


async def _led_by(cluster: NatsCluster, name: str, stream: str) -> bool:
    detail = await asyncio.to_thread(cluster.stream_detail, name, stream)
    return bool(detail["cluster"].get("leader") == name)


async def _make_leader(bus: Bus, stream: str, name: str) -> None:
    """Ask the stream's leader to step down in favour of ``name`` (nats-server 2.11 and later)."""
    request = json.dumps({"placement": {"preferred": name}}).encode()
    await bus.nc.request(f"$JS.API.STREAM.LEADER.STEPDOWN.{stream}", request, timeout=5)
