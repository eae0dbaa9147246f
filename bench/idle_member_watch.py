"""What watching idle members costs: pymongo clients against the agent's MemberWatch (decision 0009).

    .venv/bin/python bench/idle_member_watch.py --members 50 --seconds 20

One simulated member runs in a child process; this process opens --members watchers of one kind on it,
waits for them to settle, then measures its own CPU time over --seconds of nothing happening. Kinds:
``pymongo`` (an AsyncMongoClient with a server listener, heartbeat 30 s: how the agent watched members
before) and ``watch`` (a MemberWatch, 60 s awaitable hello). One JSON line per kind.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import time
from multiprocessing.queues import Queue
from typing import Any

from pymongo import AsyncMongoClient, monitoring

from fedstate_agent.memberwatch import MemberWatch
from fedstate_sim.config import SimSettings
from fedstate_sim.mongo.testing import SetHarness
from fedstate_sim.mongo.threaded import FabricThread


def serve(addresses: Queue[str]) -> None:
    """A one-member set, initiated, until the parent kills us."""
    sim = FabricThread(SimSettings())
    sim.__enter__()
    harness = SetHarness(sim, "rs0", {"c1": 1}, 91).start()
    harness.initiate()
    harness.wait_for_primary()
    launch = harness.launches[0]
    addresses.put(f"{launch.host}:{launch.port}")
    time.sleep(24 * 3600)


class _Quiet(monitoring.ServerListener):
    def opened(self, event: monitoring.ServerOpeningEvent) -> None:
        pass

    def closed(self, event: monitoring.ServerClosedEvent) -> None:
        pass

    def description_changed(self, event: monitoring.ServerDescriptionChangedEvent) -> None:
        pass


async def idle_cpu(kind: str, address: str, count: int, seconds: float) -> float:
    """% of a core this process spends while ``count`` watchers of ``kind`` idle."""
    clients: list[AsyncMongoClient[dict[str, Any]]] = []
    watches: list[MemberWatch] = []
    for _ in range(count):
        if kind == "pymongo":
            client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
                f"mongodb://{address}/", directConnection=True, heartbeatFrequencyMS=30_000, event_listeners=[_Quiet()]
            )
            await client.admin.command("ping")
            clients.append(client)
        else:
            watch = MemberWatch(address, lambda: None)
            watch.start()
            watches.append(watch)
    await asyncio.sleep(3)
    cpu, wall = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    used = 100 * (time.process_time() - cpu) / (time.monotonic() - wall)
    for client in clients:
        await client.close()
    for watch in watches:
        await watch.stop()
    return used


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=50, help="watchers of each kind")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    addresses: Queue[str] = multiprocessing.Queue()
    member = multiprocessing.Process(target=serve, args=(addresses,), daemon=True)
    member.start()
    address = addresses.get(timeout=60)
    try:
        for kind in ("pymongo", "watch"):
            used = await idle_cpu(kind, address, args.members, args.seconds)
            print(json.dumps({"kind": kind, "watchers": args.members, "idle_cpu_percent_of_a_core": round(used, 2)}))
    finally:
        member.kill()


if __name__ == "__main__":
    asyncio.run(main())
