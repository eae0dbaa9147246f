"""What an idle member cluster's collector writes to the bus per minute (issue 9, item 3).

    .venv/bin/python bench/collector_idle.py --clusters 3 --seconds 60

Starts a private nats-server, the simulator with ``--clusters`` clusters of three nodes (in a thread of
this process) and one collector per cluster (``fedstate_collector``'s own body, heartbeat
``--heartbeat-seconds``). Nothing changes in the clusters. After ``--warmup`` seconds it counts, for
``--seconds``, the writes (the difference of each KV stream's last sequence) and the bytes stored on
``fs-clusters`` and ``fs-leases``, and the CPU time of the collectors (the thread of their event loop;
the simulator runs in another), and prints them per cluster as one JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

from fedstate.bus.connection import Bus, connect
from fedstate.bus.names import Bucket, kv_stream
from fedstate.natsserver import start_nats_server
from fedstate_collector.__main__ import body
from fedstate_collector.settings import CollectorSettings
from fedstate_sim.config import ClusterConfig, SimConfig
from fedstate_sim.world import World

MEASURED = (Bucket.CLUSTERS, Bucket.LEASES)


async def stream_state(bus: Bus) -> dict[str, tuple[int, int]]:
    """Per measured bucket: its last sequence, and the average size of a message it keeps.

    The buckets keep a few revisions per key, so the bytes they store stop growing: bytes written are
    counted as writes times that average size."""
    found = {}
    for bucket in MEASURED:
        state = (await bus.js.stream_info(kv_stream(bucket))).state
        found[str(bucket)] = (state.last_seq, state.bytes // state.messages if state.messages else 0)
    return found


async def measure(url: str, kubeconfig: Path, clusters: list[str], args: argparse.Namespace) -> dict[str, object]:
    bus = await connect(url, name="bench-collector-idle")
    async with AsyncExitStack() as stack:
        stack.push_async_callback(bus.close)
        tasks = []
        for name in clusters:
            settings = CollectorSettings(
                cluster=name,
                nats_url=url,
                kubeconfig=kubeconfig,
                kube_context=name,
                heartbeat_seconds=args.heartbeat_seconds,
            )
            tasks.append(asyncio.create_task(body(bus, stack, settings)))
        await asyncio.sleep(args.warmup)
        before, cpu = await stream_state(bus), time.thread_time()
        await asyncio.sleep(args.seconds)
        after, cpu = await stream_state(bus), time.thread_time() - cpu
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    per_minute = 60.0 / args.seconds / len(clusters)
    writes = {b: round((after[b][0] - before[b][0]) * per_minute, 2) for b in after}
    sizes = {b: after[b][1] for b in after}
    return {
        "clusters": len(clusters),
        "seconds": args.seconds,
        "heartbeatSeconds": args.heartbeat_seconds,
        "kvWritesPerClusterPerMinute": writes,
        "kvWritesPerClusterPerMinuteTotal": round(sum(writes.values()), 2),
        "averageValueBytes": sizes,
        "kvBytesPerClusterPerMinute": round(sum(writes[b] * sizes[b] for b in writes)),
        "collectorCpuPercentOfOneCorePerCluster": round(100 * cpu / args.seconds / len(clusters), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clusters", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--heartbeat-seconds", type=float, default=5.0)
    args = parser.parse_args()
    names = [f"idle-{k}" for k in range(1, args.clusters + 1)]
    with tempfile.TemporaryDirectory() as scratch:
        server = start_nats_server(Path(scratch) / "jetstream")
        try:
            config = SimConfig(clusters=[ClusterConfig(name=name) for name in names])
            with World.run_in_thread(config) as threaded:
                assert threaded.world is not None
                kubeconfig = threaded.world.write_kubeconfig(Path(scratch) / "kubeconfig")
                result = asyncio.run(measure(server.url, kubeconfig, names, args))
        finally:
            server.stop()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
