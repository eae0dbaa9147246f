"""Reading is by watches, not lists (issue 9, item 1): however many reconciles, list requests and open REST watches
(issue 15) run, no JetStream consumer is created for them, and the number of consumers on every stream of the bus
stays where it was: at most one per service that reads the bucket."""

from __future__ import annotations

import asyncio
import http.client
import socket
import threading
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import nats
from prometheus_client.parser import text_string_to_metric_families

from fedstate.api.resources import MULTICLOUD_MONGODB
from fedstate.bus.names import Bucket, kv_stream
from fedstate.cli.localstack import LocalStack
from fedstate.cli.records import load_state
from tests.gateway_reads import gateway_reads

from .invariants import apply, cluster_names, wait_gone, wait_settled, wait_until

STREAMS = [kv_stream(bucket) for bucket in Bucket]
REQUESTS = 400
WATCHES = 20
SCHEDULER_PASSES = 300
# scheduler, federation, gateway, the crd-bridge (one per kind it bridges); plus an agent per cluster
CONTROL_PLANE_READERS = 5
CREATED = "$JS.EVENT.ADVISORY.CONSUMER.CREATED.>"


def consumers(stack: LocalStack) -> dict[str, int]:
    """Consumers in use per stream: with a subscriber bound. A watch that resumed (after a reconnect, or missed
    heartbeats on a loaded machine) leaves the consumer it replaced unbound until its inactivity threshold; new
    ones are caught by ``consumers_created``."""

    async def count() -> dict[str, int]:
        nc = await nats.connect(stack.nats_url, **stack.nats_options())
        try:
            js = nc.jetstream()
            return {name: sum(bool(c.push_bound) for c in await js.consumers_info(name)) for name in STREAMS}
        finally:
            await nc.close()

    return asyncio.run(count())


@contextmanager
def consumers_created(stack: LocalStack) -> Iterator[Counter[str]]:
    """Consumers created on the KV streams while inside, by stream, from the server's advisories."""
    counted: Counter[str] = Counter()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def count(msg: Any) -> None:
        stream = msg.subject.split(".")[5]
        if stream in STREAMS:
            counted[stream] += 1

    async def subscribe() -> nats.NATS:
        nc = await nats.connect(stack.nats_url, **stack.nats_options())
        await nc.subscribe(CREATED, cb=count)
        await nc.flush()
        return nc

    nc = asyncio.run_coroutine_threadsafe(subscribe(), loop).result(30)
    try:
        yield counted
    finally:
        asyncio.run_coroutine_threadsafe(nc.close(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)


@contextmanager
def watching(stack: LocalStack, count: int) -> Iterator[list[int]]:
    """``count`` watches of every kind and every cluster (``GET /watch``) open, each read by a thread; yields how
    many events each has had. Their connections are cut on leaving."""
    url = urlsplit(stack.gateway.base_url)
    connections = [http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=120) for _ in range(count)]
    seen = [0] * count

    def read(index: int, connection: http.client.HTTPConnection) -> None:
        connection.request("GET", "/watch?watch=true&allowWatchBookmarks=true", headers=stack.gateway.headers)
        response = connection.getresponse()
        try:
            while response.readline():
                seen[index] += 1
        except (OSError, ValueError):
            pass  # cut on leaving

    threads = [threading.Thread(target=read, args=(k, c), daemon=True) for k, c in enumerate(connections)]
    for thread in threads:
        thread.start()
    try:
        yield seen
    finally:
        for connection in connections:
            if connection.sock is not None:
                connection.sock.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(30)
        for connection in connections:
            connection.close()


def scheduler_passes(stack: LocalStack) -> float:
    """``fedstate_reconcile_total`` of the scheduler, read from its /metrics."""
    state = load_state(stack.paths)
    assert state is not None
    url = next(p.metrics_url for p in state.processes if p.name == "scheduler" and p.metrics_url)
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "fedstate_reconcile_total" and sample.labels.get("controller") == "scheduler"
    )


def unschedulable(name: str) -> dict[str, Any]:
    """An instance no node takes: the scheduler retries it whenever a cluster changes or renews its lease."""
    spec = {"replicaset": 1, "spreadConstraints": {"nodeSelect": {"pool": "nowhere"}}}
    return {"apiVersion": MULTICLOUD_MONGODB.api_version, "kind": MULTICLOUD_MONGODB.kind,
            "metadata": {"name": name, "namespace": "default"}, "spec": spec}  # fmt: skip


def test_reconciles_and_reads_create_no_consumer_and_leave_the_count_as_it_was(stack: LocalStack) -> None:
    """Four instances through their whole life, twenty the scheduler keeps retrying, 400 REST reads and twenty
    watches following it all: no consumer is created on any KV stream, and each keeps at most one per service
    reading it."""
    settled = [f"load-{k}" for k in range(4)]
    waiting = [f"waiting-{k}" for k in range(20)]
    apply(stack, settled[0], "{replicaset: 1}")
    wait_settled(stack, settled[0])  # its placement and data plane exist before they are read
    paths = gateway_reads(settled[0], "member-1")
    for path in paths:  # the gateway's caches start with the first request that needs each
        stack.gateway.call("GET", path)
    before, passes = consumers(stack), scheduler_passes(stack)

    with consumers_created(stack) as created, watching(stack, WATCHES) as seen:
        for name in settled[1:]:
            apply(stack, name, "{replicaset: 1}")
        for name in waiting:
            stack.gateway.put_object(MULTICLOUD_MONGODB, unschedulable(name))
        with ThreadPoolExecutor(8) as pool:  # a busy dashboard while the services work
            list(pool.map(lambda n: stack.gateway.call("GET", paths[n % len(paths)]), range(REQUESTS)))
        for name in settled:
            wait_settled(stack, name)
        wait_until(lambda: scheduler_passes(stack) >= passes + SCHEDULER_PASSES, f"{SCHEDULER_PASSES} scheduler passes")
        during = consumers(stack)
        assert all(seen), seen  # every watch was told of the instances and the clusters

    for name in settled + waiting:
        stack.gateway.delete_object(MULTICLOUD_MONGODB, "default", name)
    for name in settled + waiting:
        wait_gone(stack, name)
    assert {} == dict(created)
    assert before == during == consumers(stack)
    assert max(before.values()) <= CONTROL_PLANE_READERS + len(cluster_names(stack))
