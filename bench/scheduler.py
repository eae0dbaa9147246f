"""Benchmark of the scheduler: decisions per second and p50/p99 latency for 10, 100 and 1,000
member clusters of 50 nodes each, for the pure ``decide`` and through the bus (NATS KV).

    .venv/bin/python bench/scheduler.py                     # pure function, all sizes
    .venv/bin/python bench/scheduler.py --bus               # also spec → placement through NATS
    .venv/bin/python bench/scheduler.py --sizes 100 --iterations 500

Prints one JSON document. The world is synthetic but not uniform: nodes carry different
usage, a fifth are labelled for MongoDB (the spec's nodeSelect), some are tainted, and the
clusters spread over five regions, so every filter and the quorum rule do real work.

Cases: *unseen* (nothing remembered: every node analysed), *after heartbeats* (every snapshot
a new object decoded from the wire, one cluster in ten with a changed node; *service*: interned
on arrival and the heap settled after the round, as the service does; *prepared*: interned only),
*warm* (the same snapshot objects as the last decision).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

from fedstate.bus.connection import Bus, connect
from fedstate.bus.objects import StoredObject
from fedstate.heap import HeapKeeper
from fedstate.models.base import ObjectMeta
from fedstate.models.cluster import ClusterSnapshot, NodeResources, Taint
from fedstate.models.multicloud import MultiCloudMongoDBSpec
from fedstate.natsserver import start_nats_server
from fedstate_scheduler.domain import MemberShape, PlacementRequest, Reservation, decide, interned, memo
from fedstate_scheduler.service import Scheduler

T = TypeVar("T")
GI = 1 << 30
NODES_PER_CLUSTER = 50
ROUND_TRIP_TIMEOUT_SECONDS = 60  # a lost placement fails the run instead of hanging it
BUS_RUN_TIMEOUT_SECONDS = 600
SHUTDOWN_SECONDS = 10
REGIONS = ("eu-west", "eu-north", "us-east", "us-west", "ap-south")
SPEC_WIRE: dict[str, Any] = {
    "replicaset": 5,
    "export": {"enable": True, "resource": {"requests": {"cpu": "200m", "memory": "256Mi"}}},
    "resource": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}},
    "storage": {"storageClass": "standard"},
    "scheduler": {"schedulerMode": "Uniform", "tolerations": [{"key": "dedicated", "operator": "Exists"}]},
    "spreadConstraints": {"nodeSelect": {"deploy": "mongo"}},
}


def node(cluster: int, index: int, now_usage: int) -> NodeResources:
    tainted = index % 10 == 9
    return NodeResources(
        name=f"c{cluster}-n{index}",
        labels={"deploy": "mongo"} if index % 5 == 0 or tainted else {},
        taints=[Taint(key="dedicated", value="db")] if tainted else [],
        allocatable_cpu_millis=16_000,
        allocatable_memory_bytes=64 * GI,
        requested_cpu_millis=(now_usage * 1000) % 15_000,
        requested_memory_bytes=((now_usage * 7) % 60) * GI,
        pods=now_usage % 40,
    )


def world(clusters: int, observed_at: datetime) -> list[ClusterSnapshot]:
    return [
        ClusterSnapshot(
            name=f"member-{c:04d}",
            vip=f"10.{c // 250}.{c % 250}.1",
            region=REGIONS[c % len(REGIONS)],
            zone=f"{REGIONS[c % len(REGIONS)]}-{c % 3}",
            provider=("aws", "gcp", "azure")[c % 3],
            nodes=[node(c, n, c * 31 + n * 17) for n in range(NODES_PER_CLUSTER)],
            storage_classes=["standard", "fast"],
            default_storage_class="standard",
            observed_at=observed_at,
        )
        for c in range(clusters)
    ]


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {
        "p50_ms": round(pick(0.50) * 1000, 3),
        "p99_ms": round(pick(0.99) * 1000, 3),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
        "decisions_per_s": round(len(ordered) / sum(ordered), 1),
    }


def timed(
    call: Callable[[], object], iterations: int, before: Callable[[], object] = lambda: None, *, gc_paused: bool = False
) -> list[float]:
    """Per-call seconds; with ``gc_paused`` Python's cyclic collector is off for the whole series."""
    samples = []
    if gc_paused:
        gc.collect()
        gc.disable()
    try:
        for _ in range(iterations):
            before()
            started = time.perf_counter()
            call()
            samples.append(time.perf_counter() - started)
    finally:
        gc.enable()
    return samples


Arrival = Literal["decoded", "interned", "service"]


class Heartbeats:
    """Rounds of heartbeats: every snapshot a new object decoded from the wire, ``observed_at`` moved on.

    In each round one cluster in ten also reports a changed node (a pod's requests on its first node),
    a different tenth each round, so the scheduler meets both unchanged and changed nodes. The arrival
    says what happens to a round before the decision: ``decoded`` nothing, ``interned`` each snapshot's
    nodes interned (``domain.interned``), ``service`` interned and the heap settled (``HeapKeeper``),
    as the service does.
    """

    def __init__(self, snapshots: tuple[ClusterSnapshot, ...]) -> None:
        # JSON text, as heartbeats arrive from the bus (and no extra objects for the collector to walk).
        self.wire = [snapshot.model_dump_json(by_alias=True, exclude_none=True) for snapshot in snapshots]
        self.started = snapshots[0].observed_at if snapshots else datetime.now(UTC)
        self.round = 0
        self.snapshots = snapshots
        self.heap = HeapKeeper()
        self.changed_every = 10  # one cluster in this many reports a changed node in each round

    def next_round(self, arrival: Arrival) -> None:
        self.round += 1
        observed = self.started + timedelta(milliseconds=self.round)
        decoded = (self._decoded(i, wire, observed) for i, wire in enumerate(self.wire))
        self.snapshots = tuple(decoded if arrival == "decoded" else map(interned, decoded))
        if arrival == "service":
            self.heap.settle(force=True)

    def _decoded(self, index: int, wire: str, observed: datetime) -> ClusterSnapshot:
        snapshot = ClusterSnapshot.model_validate_json(wire)
        snapshot.observed_at = observed
        if index % self.changed_every == self.round % self.changed_every:
            first, *others = snapshot.nodes
            started = first.model_copy(update={"requested_cpu_millis": first.requested_cpu_millis + self.round % 1000})
            snapshot.nodes = [started, *others]
        return snapshot

    def request(self, template: PlacementRequest) -> PlacementRequest:
        return replace(template, clusters=self.snapshots, now=self.snapshots[0].observed_at)


def bench_pure(clusters: int, iterations: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    snapshots = tuple(map(interned, world(clusters, now)))  # as the service keeps them
    spec = MultiCloudMongoDBSpec.model_validate(SPEC_WIRE)
    shape = MemberShape.of(spec)
    first = decide(PlacementRequest(1, spec, snapshots, now))
    # In-flight promises on a few clusters, as the service has them while instances are being created.
    promised = tuple(Reservation(a.cluster, a.replicas, shape, "other") for a in first.clusters)
    create = PlacementRequest(1, spec, snapshots, now, reservations=promised)
    scaled = spec.model_copy(update={"replicaset": 7})
    reschedule = PlacementRequest(2, scaled, snapshots, now, current=first, reservations=promised)
    beats = Heartbeats(snapshots)

    def after_heartbeats(
        template: PlacementRequest, arrival: Arrival, *, gc_paused: bool = False, changed_every: int = 10
    ) -> dict[str, float]:
        requests: list[PlacementRequest] = []
        beats.changed_every = changed_every

        def next_request() -> None:
            beats.next_round(arrival)
            requests[:] = [beats.request(template)]

        next_request()  # one round and decision untimed: the first after a case that forgot everything
        decide(requests[0])

        return percentiles(timed(lambda: decide(requests[0]), iterations, before=next_request, gc_paused=gc_paused))

    timed(lambda: decide(create), 5)  # warm-up
    # The heartbeat cases first: the cases that forget everything (memo.clear_all) come after them, so
    # the earlier ones run on a heap like the service's (one copy of each unchanged node). The service
    # cases come last: the heap they freeze stays frozen for whatever runs after them.
    return {
        "clusters": clusters,
        "nodes": clusters * NODES_PER_CLUSTER,
        # after heartbeats: every snapshot a new object, 1 cluster in 10 with a changed node.
        # interned: on arrival, the heap left to the collector; decoded: handed to decide as they come.
        "create_after_heartbeats_prepared": after_heartbeats(create, "interned"),
        "scale_5_to_7_after_heartbeats_prepared": after_heartbeats(reschedule, "interned"),
        # the decision's own cost: Python's cyclic collector paused during the series (it makes much of p99)
        "create_after_heartbeats_prepared_gc_paused": after_heartbeats(create, "interned", gc_paused=True),
        # warm: the same snapshot objects as the last decision (a burst of instances between heartbeats)
        "create_warm": percentiles(timed(lambda: decide(create), iterations)),
        "create_after_heartbeats": after_heartbeats(create, "decoded"),
        # unseen: nothing remembered, every node analysed (the first decision, or every node changed)
        "create_unseen": percentiles(timed(lambda: decide(create), iterations, before=memo.clear_all)),
        "scale_5_to_7_unseen": percentiles(timed(lambda: decide(reschedule), iterations, before=memo.clear_all)),
        "create_unseen_gc_paused": percentiles(
            timed(lambda: decide(create), iterations, before=memo.clear_all, gc_paused=True)
        ),
        # service: interned on arrival and the heap settled after each round, as the service does
        "create_after_heartbeats_service": after_heartbeats(create, "service"),
        "scale_5_to_7_after_heartbeats_service": after_heartbeats(reschedule, "service"),
        # every cluster changed a node since the last decision, as the service takes such a round in
        "create_after_heartbeats_all_changed_service": after_heartbeats(create, "service", changed_every=1),
        # unseen on the service's heap: what the service holds frozen, nothing remembered
        "create_unseen_service": percentiles(timed(lambda: decide(create), iterations, before=memo.clear_all)),
    }


async def bench_bus(clusters: int, iterations: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as store:
        server = start_nats_server(Path(store))
        try:
            bus = await connect(server.url, name="bench-scheduler")
            try:
                return await _watched(_through_bus(bus, clusters, iterations), BUS_RUN_TIMEOUT_SECONDS)
            finally:
                await bus.close()
        finally:
            server.stop()


async def _watched(run: Coroutine[Any, Any, T], seconds: float) -> T:
    """``run``, or where every task waits (on stderr) and a TimeoutError when it hangs."""
    task = asyncio.ensure_future(run)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        for each in asyncio.all_tasks():
            print(f"--- {each.get_name()}: {each.get_coro()}", file=sys.stderr)
            each.print_stack(file=sys.stderr)
        task.cancel()
        raise TimeoutError(f"the bus run did not finish in {seconds}s")
    return task.result()


async def _through_bus(bus: Bus, clusters: int, iterations: int) -> dict[str, Any]:
    for snapshot in world(clusters, datetime.now(UTC) + timedelta(hours=1)):
        await bus.clusters.put(snapshot.name, snapshot)
    scheduler = Scheduler(bus, tenant="bench", heap=HeapKeeper())  # as python -m fedstate_scheduler runs it
    runner = asyncio.create_task(scheduler.run())
    waiter = PlacementWaiter(bus)
    watching = asyncio.create_task(waiter.follow())
    await asyncio.sleep(0.5)
    # Promises expire at once: the bench measures decisions, not a world filling up (with 10
    # clusters a burst would otherwise run out of room and measure unschedulable placements).
    scheduler.reservation_ttl = timedelta(0)
    one_by_one = [await waiter.round_trip(f"solo{i}") for i in range(iterations)]
    started = time.perf_counter()
    await asyncio.gather(*(waiter.round_trip(f"burst{i}") for i in range(iterations)))
    burst = time.perf_counter() - started
    for task in (runner, watching):
        task.cancel()
    _, stuck = await asyncio.wait({runner, watching}, timeout=SHUTDOWN_SECONDS)
    if stuck:  # a KV watch's unsubscribe can hang when cancelled; closing the connection ends it
        print(f"warning: {len(stuck)} task(s) still stopping after {SHUTDOWN_SECONDS}s", file=sys.stderr)
    return {
        "clusters": clusters,
        "spec_to_placement": percentiles(one_by_one),
        "burst": {
            "instances": iterations,
            "seconds": round(burst, 3),
            "placements_per_s": round(iterations / burst, 1),
        },
    }


class PlacementWaiter:
    """Times spec put → placement written, from one watch on the placements bucket."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.pending: dict[str, asyncio.Future[None]] = {}

    async def follow(self) -> None:
        async for change in self.bus.placements.watch("bench.>"):
            waiting = self.pending.pop(change.key, None)
            if waiting is not None and not change.deleted:
                waiting.set_result(None)

    async def round_trip(self, name: str) -> float:
        obj = StoredObject(
            api_version="middleware.fedstate.io/v1alpha1",
            kind="MultiCloudMongoDB",
            tenant="bench",
            metadata=ObjectMeta(name=name, generation=1, uid=str(uuid.uuid4())),
            spec=SPEC_WIRE,
        )
        key = obj.key.placement_key
        written = self.pending[key] = asyncio.get_running_loop().create_future()
        started = time.perf_counter()
        await self.bus.spec.put(obj.key.spec_key, obj)
        try:
            await asyncio.wait_for(written, ROUND_TRIP_TIMEOUT_SECONDS)
        except TimeoutError:
            stored = await self.bus.placements.get(key)
            why = "the placements watch missed it" if stored else "the scheduler did not write it"
            raise RuntimeError(f"no placement for {key} after {ROUND_TRIP_TIMEOUT_SECONDS}s: {why}") from None
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,100,1000", help="comma-separated cluster counts")
    parser.add_argument("--iterations", type=int, default=0, help="decisions per size (default: by size)")
    parser.add_argument("--bus", action="store_true", help="also measure spec → placement through NATS")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    gc.freeze()  # as ``python -m fedstate_scheduler`` does after its imports
    report: dict[str, Any] = {
        "benchmark": "scheduler",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "gc": "imports frozen (gc.freeze), as in the service",
        "nodes_per_cluster": NODES_PER_CLUSTER,
        "pure": [bench_pure(size, args.iterations or max(20, 20_000 // size)) for size in sizes],
    }
    if args.bus:
        report["bus"] = [asyncio.run(bench_bus(size, args.iterations or max(20, 5_000 // size))) for size in sizes]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
