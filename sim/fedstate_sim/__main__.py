"""``python -m fedstate_sim``: run N simulated member clusters until SIGTERM/SIGINT.

python -m fedstate_sim --clusters 3 --kubeconfig /tmp/sim.kubeconfig --ready-file /tmp/sim.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
from pathlib import Path
from typing import Any

import yaml

from fedstate_sim.config import SIMULATOR_BANNER, SimConfig, default_config
from fedstate_sim.logs import setup_logging
from fedstate_sim.mongo.api import MemberHost
from fedstate_sim.mongo.shards import ShardedMemberHost
from fedstate_sim.process import tune_process
from fedstate_sim.vips import claim_free_octet
from fedstate_sim.world import World

log = logging.getLogger("fedstate_sim")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m fedstate_sim", description=f"Run the {SIMULATOR_BANNER}.")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--clusters", type=int, default=None, help="N clusters member-1..member-N (default 3)")
    source.add_argument("--config", type=Path, help="simulator YAML (see docs/simulator.md)")
    parser.add_argument("--kubeconfig", type=Path, help="write a kubeconfig with one context per cluster here")
    parser.add_argument("--control-port", type=int, default=0, help="control API port on 127.0.0.1 (0 = pick)")
    parser.add_argument("--ready-file", type=Path, help="write {controlPort, clusters: {name: apiUrl}} when ready")
    parser.add_argument(
        "--vip-octet", type=int, help="second octet of the loopback VIPs 127.<octet>.<k>.1 (default: first free one)"
    )
    parser.add_argument("--pod-startup-seconds", type=float, help="delay from Running to Ready")
    parser.add_argument("--election-timeout-millis", type=int, help="simulated replica-set election timeout")
    parser.add_argument(
        "--control-plane",
        action="append",
        default=[],
        metavar="NAME",
        help="also a control-plane cluster NAME (no members; in the kubeconfig, not among the clusters); repeatable",
    )
    parser.add_argument(
        "--member-processes",
        type=int,
        default=1,
        help="run the simulated mongods in this many child processes (a fleet beyond one process's open-file limit)",
    )
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> SimConfig:
    if args.config is not None:
        raw: dict[str, Any] = yaml.safe_load(args.config.read_text()) or {}
    else:
        dumped = default_config(args.clusters or 3).model_dump(by_alias=True, exclude={"settings"})
        raw = {"clusters": [{k: v for k, v in c.items() if k != "vip"} for c in dumped["clusters"]]}
    overrides = {
        "vipOctet": args.vip_octet,
        "podStartupSeconds": args.pod_startup_seconds,
        "electionTimeoutMillis": args.election_timeout_millis,
    }
    if args.control_plane:
        raw["controlPlanes"] = [*raw.get("controlPlanes", []), *({"name": name} for name in args.control_plane)]
    settings = raw.setdefault("settings", {})
    settings.update({k: v for k, v in overrides.items() if v is not None})
    return SimConfig.model_validate(raw)


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def ready_document(world: World, kubeconfig: Path | None) -> dict[str, Any]:
    host = world.host
    return {
        "simulator": SIMULATOR_BANNER,
        "pid": os.getpid(),
        # Where the simulated mongods run, when not in this process: for benchmarks that count their CPU.
        "memberPids": [p.process.pid for p in host.processes] if isinstance(host, ShardedMemberHost) else [],
        "controlPort": world.control_port,
        "controlUrl": f"http://127.0.0.1:{world.control_port}",
        "kubeconfig": str(kubeconfig) if kubeconfig else None,
        "clusters": world.api_urls(),
        "controlPlanes": world.control_plane_urls(),
    }


def member_host(config: SimConfig, processes: int) -> MemberHost | None:
    """None: the members run in this process (``World`` builds the fabric)."""
    if processes <= 1:
        return None
    return ShardedMemberHost(config.settings, processes)


async def run(args: argparse.Namespace) -> None:
    config = build_config(args)
    explicit = args.vip_octet is not None or "vip_octet" in config.settings.model_fields_set
    args.vip_octet, claim = claim_free_octet(config.settings.vip_octet if explicit else None)
    config = build_config(args)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    host = member_host(config, args.member_processes)
    async with World(config, host, control_port=args.control_port) as world:
        if args.kubeconfig:
            world.write_kubeconfig(args.kubeconfig)
        if args.ready_file:
            write_atomically(args.ready_file, json.dumps(ready_document(world, args.kubeconfig), indent=2))
        log.info("fedstate simulator ready: control API on 127.0.0.1:%s", world.control_port)
        await stop.wait()
        log.info("fedstate simulator: shutting down")
    claim.close()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    setup_logging(args.log_level)
    tune_process()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
