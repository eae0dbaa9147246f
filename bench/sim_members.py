"""Idle cost of simulated MongoDB members: N members in replica sets, one process, then 10 s of idling.

Starts a MongoFabric in this process, starts ``--members`` members spread over
``--clusters`` simulated clusters (each set's members in different clusters),
initiates every set over the wire (OP_MSG replSetInitiate), waits until every
set has one primary and all members are SECONDARY/PRIMARY, lets it settle for a
few heartbeat intervals, then measures the process CPU time used while idle.
Prints one JSON document.

    .venv/bin/python bench/sim_members.py --members 5000 --set-size 5 --clusters 100
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import resource
import struct
import sys
import time
from typing import Any

import bson

from fedstate_sim.config import SimSettings, vip_for
from fedstate_sim.mongo import MemberLaunch, MongoFabric
from fedstate_sim.mongo.peers import State
from fedstate_sim.mongo.rsconfig import MAX_VOTERS
from fedstate_sim.mongo.wire import HEADER, OP_MSG

FIRST_NODE_PORT = 30_000


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=5000)
    parser.add_argument("--set-size", type=int, default=5)
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--settle-heartbeats", type=int, default=3, help="heartbeat intervals to wait once healthy")
    parser.add_argument("--heartbeat-ms", type=int, default=SimSettings().heartbeat_interval_millis)
    parser.add_argument("--election-timeout-ms", type=int, default=SimSettings().election_timeout_millis)
    parser.add_argument("--vip-octet", type=int, default=77, help="second octet of the loopback VIPs used")
    parser.add_argument("--down-clusters", type=int, default=0, help="fail this many clusters before measuring")
    parser.add_argument("--log-level", default="ERROR")
    return parser.parse_args(argv)


def plan(args: argparse.Namespace) -> list[list[MemberLaunch]]:
    """Sets of ``set_size`` members; member j of set i lives in cluster (i + j) mod clusters."""
    next_port = [FIRST_NODE_PORT] * args.clusters
    sets = []
    for set_index in range(args.members // args.set_size):
        members = []
        for j in range(args.set_size):
            cluster = (set_index + j) % args.clusters
            port, next_port[cluster] = next_port[cluster], next_port[cluster] + 1
            host = vip_for(cluster + 1, args.vip_octet)
            name = f"rs{set_index}"
            members.append(
                MemberLaunch(f"c{cluster + 1}", host, port, name, f"c{cluster + 1}/{name}-{j}", f"bench/{name}-{j}")
            )
        sets.append(members)
    return sets


async def command(host: str, port: int, doc: dict[str, Any]) -> dict[str, Any]:
    """Send one OP_MSG command over TCP and return the reply document."""
    reader, writer = await asyncio.open_connection(host, port)
    payload = struct.pack("<I", 0) + b"\x00" + bson.encode(doc)
    writer.write(HEADER.pack(HEADER.size + len(payload), 1, 0, OP_MSG) + payload)
    length = HEADER.unpack(await reader.readexactly(HEADER.size))[0]
    body = await reader.readexactly(length - HEADER.size)
    writer.close()
    return bson.decode(body[5:])


async def initiate(members: list[MemberLaunch]) -> None:
    """replSetInitiate over the wire; members beyond the seventh are non-voting (votes 0, priority 0)."""
    config = {
        "_id": members[0].repl_set,
        "version": 1,
        "members": [
            {"_id": i, "host": f"{m.host}:{m.port}", **({} if i < MAX_VOTERS else {"votes": 0, "priority": 0})}
            for i, m in enumerate(members)
        ],
    }
    reply = await command(members[0].host, members[0].port, {"replSetInitiate": config, "$db": "admin"})
    if reply.get("ok") != 1:
        raise RuntimeError(f"replSetInitiate failed: {reply}")


def healthy_sets(fabric: MongoFabric) -> int:
    primaries = 0
    for member in fabric.services.members.values():
        if member.state not in (State.PRIMARY, State.SECONDARY):
            return -1
        primaries += member.state is State.PRIMARY
    return primaries


async def wait_healthy(fabric: MongoFabric, sets: int, timeout: float) -> float:
    started = time.monotonic()
    while healthy_sets(fabric) != sets:
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"not healthy after {timeout}s: {healthy_sets(fabric)} primaries")
        await asyncio.sleep(0.2)
    return time.monotonic() - started


async def measure_idle(fabric: MongoFabric, seconds: float) -> dict[str, float]:
    wakeups = fabric.services.scheduler.wakeups
    rounds = dict(fabric.services.stats)
    cpu, wall = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    return {
        "idle_seconds": round(wall, 2),
        "idle_cpu_seconds": round(cpu, 3),
        "idle_cpu_percent_of_one_core": round(100 * cpu / wall, 2),
        "scheduler_wakeups_per_second": round((fabric.services.scheduler.wakeups - wakeups) / wall, 1),
        **{f"{kind}_per_second": round((fabric.services.stats[kind] - rounds[kind]) / wall, 1) for kind in rounds},
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    settings = SimSettings(
        heartbeat_interval_millis=args.heartbeat_ms, election_timeout_millis=args.election_timeout_ms
    )
    fabric = MongoFabric(settings)
    sets = plan(args)
    t0 = time.monotonic()
    for members in sets:
        for launch in members:
            await fabric.start_member(launch)
    t1 = time.monotonic()
    for members in sets:
        await initiate(members)
    t2 = time.monotonic()
    healthy_after = await wait_healthy(fabric, len(sets), timeout=60 + 10 * args.election_timeout_ms / 1000)
    result: dict[str, Any] = {
        "members": sum(len(s) for s in sets),
        "sets": len(sets),
        "set_size": args.set_size,
        "clusters": args.clusters,
        "heartbeat_interval_millis": args.heartbeat_ms,
        "election_timeout_millis": args.election_timeout_ms,
        "start_seconds": round(t1 - t0, 2),
        "initiate_seconds": round(t2 - t1, 2),
        "healthy_after_seconds": round(healthy_after, 2),
    }
    await asyncio.sleep(args.settle_heartbeats * args.heartbeat_ms / 1000)
    if args.down_clusters:
        for index in range(1, args.down_clusters + 1):
            fabric.set_cluster_down(f"c{index}", True)
        await asyncio.sleep(2 * args.election_timeout_ms / 1000)  # let the affected sets fail over
        result["down_clusters"] = args.down_clusters
    result.update(await measure_idle(fabric, args.idle_seconds))
    result["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    await fabric.close()
    return result


if __name__ == "__main__":
    arguments = parse_args(sys.argv[1:])
    logging.basicConfig(level=arguments.log_level)
    print(json.dumps(asyncio.run(main(arguments)), indent=2))
