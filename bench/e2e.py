"""Apply → Health latency of the whole stack, next to the bus floor measured in the same run.

    .venv/bin/python bench/e2e.py --instances 10 --replicas 3

Starts a local stack (3 simulated clusters, pod start-up 0 s, election timeout --election-ms),
applies the instances one after another and times each from the apply to ``state: Health``
as the gateway reports it. The floor is the same number of sequential KV put→watch round
trips as the create flow needs (HOPS), measured on the stack's own NATS server.
Prints one JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import nats

from fedstate.bus.connection import connect
from fedstate.cli.localstack import LocalStack
from fedstate.models.base import utcnow
from fedstate.models.cluster import ClusterSnapshot

# Sequential bus hops of a create: spec → placement → dataplane → observed (addresses) →
# dataplane (rs config) → observed (initiated) → observed (roles) → status.
HOPS = 8


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def manifest(name: str, replicas: int) -> str:
    return (
        "apiVersion: middleware.fedstate.io/v1alpha1\nkind: MultiCloudMongoDB\n"
        f"metadata: {{name: {name}}}\nspec: {{replicaset: {replicas}}}\n"
    )


def time_instances(stack: LocalStack, count: int, replicas: int) -> list[float]:
    seconds = []
    for index in range(count):
        name = f"bench-{index}"
        started = time.perf_counter()
        stack.apply_text(name, manifest(name, replicas))
        stack.wait_for_state(name, "Health", timeout=180)
        seconds.append(time.perf_counter() - started)
    return seconds


async def kv_round_trip_floor(stack: LocalStack, rounds: int) -> list[float]:
    """Seconds for HOPS sequential put→watch-delivery round trips, ``rounds`` times (as the stack's admin user)."""
    nats_url, (admin, access) = stack.nats_url, stack.admin_access()
    writer = await connect(nats_url, name="bench-writer", identity=admin, access=access)
    reader = await nats.connect(nats_url, name="bench-reader", **stack.nats_options())
    watched = (await connect(nats_url, name="bench-watcher", identity=admin, access=access)).clusters
    seen: asyncio.Queue[int] = asyncio.Queue()

    async def follow() -> None:
        async for change in watched.watch("bench-floor"):
            await seen.put(change.revision)

    follower = asyncio.create_task(follow())
    snapshot = ClusterSnapshot(name="bench-floor", vip="127.0.0.1", observed_at=utcnow())
    await writer.clusters.put("bench-floor", snapshot)
    await seen.get()
    floors = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(HOPS):
            revision = await writer.clusters.put("bench-floor", snapshot)
            while await seen.get() != revision:
                pass
        floors.append(time.perf_counter() - started)
    follower.cancel()
    await writer.clusters.delete("bench-floor")
    await writer.close()
    await reader.close()
    return floors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=10)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--election-ms", type=int, default=1000)
    args = parser.parse_args()
    stack = LocalStack(Path(tempfile.mkdtemp(prefix="fedstate-bench-")), election_timeout_millis=args.election_ms)
    stack.up()
    try:
        seconds = time_instances(stack, args.instances, args.replicas)
        floors = asyncio.run(kv_round_trip_floor(stack, args.instances))
    finally:
        stack.down()
    print(
        json.dumps(
            {
                "instances": args.instances,
                "replicasEach": args.replicas,
                "electionTimeoutMillis": args.election_ms,
                "applyToHealthSeconds": {
                    "median": round(statistics.median(seconds), 3),
                    "p90": round(percentile(seconds, 0.9), 3),
                    "all": [round(s, 3) for s in seconds],
                },
                "busFloorSeconds": {
                    "hops": HOPS,
                    "median": round(statistics.median(floors), 5),
                    "p90": round(percentile(floors, 0.9), 5),
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
