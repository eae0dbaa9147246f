"""What the gateway's caches hold per instance (issue 9, item 1: reads from memory, not lists).

    .venv/bin/python bench/gateway_memory.py --instances 12

Starts a local stack (3 simulated clusters), applies ``--instances`` ``MultiCloudMongoDB``s of 3, 5 and 7
members in turn and waits until each is Health. Then it builds the gateway's caches (``fedstate_gateway.caches``,
as the gateway does on its first requests) on a connection of its own, loads every one, and measures with
``tracemalloc`` the memory each cache holds, per bucket and per instance (after loading them once unmeasured:
the first value of each model builds what decoding needs). Prints one JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import tracemalloc
from pathlib import Path

from fedstate.bus.connection import connect
from fedstate.cli.localstack import LocalStack
from fedstate_gateway.caches import Caches, Follower, Lazy

SIZES = (3, 5, 7)


def manifest(name: str, replicas: int) -> str:
    return (
        "apiVersion: middleware.fedstate.io/v1alpha1\nkind: MultiCloudMongoDB\n"
        f"metadata: {{name: {name}}}\nspec: {{replicaset: {replicas}}}\n"
    )


def caches_by_bucket(caches: Caches) -> dict[str, Lazy[Follower]]:
    return {
        "fs-spec": caches.spec,  # type: ignore[dict-item]
        "fs-status": caches.status,  # type: ignore[dict-item]
        "fs-placements": caches.placements,  # type: ignore[dict-item]
        "fs-dataplane": caches.dataplane,  # type: ignore[dict-item]
        "fs-observed": caches.observed,  # type: ignore[dict-item]
        "fs-local-objects": caches.local,  # type: ignore[dict-item]
        "fs-clusters + collector leases": caches.clusters,  # type: ignore[dict-item]
    }


async def measure(stack: LocalStack, instances: int) -> dict[str, object]:
    admin, access = stack.admin_access()  # the stack's NATS has users: this looks on as its admin
    bus = await connect(stack.nats_url, name="bench-gateway-memory", identity=admin, access=access)
    # Once without measuring: the first value of each model imports and builds what decoding needs.
    warm = Caches(lambda: bus, "default")
    for lazy in caches_by_bucket(warm).values():
        await lazy.current()
    await warm.stop()
    caches = Caches(lambda: bus, "default")
    held: dict[str, int] = {}
    tracemalloc.start()
    try:
        for name, lazy in caches_by_bucket(caches).items():
            before = tracemalloc.get_traced_memory()[0]
            await lazy.current()
            held[name] = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
        await caches.stop()
        await bus.close()
    per_instance = {name: round(size / instances) for name, size in held.items() if "clusters" not in name}
    return {
        "bytesHeld": held,
        "bytesPerInstance": per_instance,
        "bytesPerInstanceTotal": sum(per_instance.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=12)
    args = parser.parse_args()
    stack = LocalStack(Path(tempfile.mkdtemp(prefix="fedstate-bench-")))
    stack.up()
    try:
        names = [f"mem-{n}" for n in range(args.instances)]
        for n, name in enumerate(names):
            stack.apply_text(name, manifest(name, SIZES[n % len(SIZES)]))
        for name in names:
            stack.wait_for_state(name, "Health", timeout=300)
        result = asyncio.run(measure(stack, args.instances))
    finally:
        stack.down()
    members = sum(SIZES[n % len(SIZES)] for n in range(args.instances))
    print(json.dumps({"instances": args.instances, "members": members, "clusters": stack.clusters, **result}, indent=2))


if __name__ == "__main__":
    main()
