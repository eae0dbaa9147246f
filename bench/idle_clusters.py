"""What an idle member cluster costs the whole control plane (issue 9, item 3).

    .venv/bin/python bench/idle_clusters.py --clusters 20
    .venv/bin/python bench/idle_clusters.py --clusters 50 --settle-seconds 90

Starts a local stack (``fedstate up`` in a scratch directory, ``--clusters-per-process`` clusters per collector
and agent process) with no instance, waits --settle-seconds for start-up to end, then reads every process's
CPU-seconds from ``/proc`` (``scale_probes.process_usage``: each service's session, children included) at the
start and end of a --seconds window. Prints, as one JSON document: CPU in % of one core per service kind, the
control plane's total (simulator excluded), and per idle cluster both the member side (collector + agent) and
the whole control plane divided by the number of clusters.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from scale_probes import SIMULATOR, by_kind, process_usage

from fedstate.cli.localstack import LocalStack
from fedstate.cli.records import load_state

MEMBER_SIDE = ("collectors", "agents")


def cpu_seconds(stack: LocalStack) -> dict[str, float]:
    state = load_state(stack.paths)
    assert state is not None, "fedstate up wrote no state"
    return process_usage(state.processes).cpu_seconds


def percent_of_one_core(before: dict[str, float], after: dict[str, float], seconds: float) -> dict[str, float]:
    spent = {name: after[name] - before.get(name, 0.0) for name in after}
    return {kind: round(100 * cpu / seconds, 3) for kind, cpu in by_kind(spent).items()}


def figures(per_kind: dict[str, float], clusters: int) -> dict[str, Any]:
    control_plane = sum(v for k, v in per_kind.items() if k != SIMULATOR)
    member_side = sum(per_kind.get(k, 0.0) for k in MEMBER_SIDE)
    return {
        "cpuPercentOfOneCore": per_kind,
        "controlPlanePercent": round(control_plane, 3),
        "perClusterMemberSidePercent": round(member_side / clusters, 4),
        "perClusterControlPlanePercent": round(control_plane / clusters, 4),
    }


def measure(stack: LocalStack, args: argparse.Namespace) -> dict[str, Any]:
    time.sleep(args.settle_seconds)
    before, started = cpu_seconds(stack), time.monotonic()
    time.sleep(args.seconds)
    after, window = cpu_seconds(stack), time.monotonic() - started
    return figures(percent_of_one_core(before, after, window), args.clusters) | {"windowSeconds": round(window, 1)}


OPTIONS: dict[str, tuple[type, object, str]] = {
    "--clusters": (int, 20, "simulated member clusters, none with an instance"),
    "--clusters-per-process": (int, 10, "clusters per collector and per agent process"),
    "--settle-seconds": (float, 60.0, "how long start-up may go on before the window"),
    "--seconds": (float, 60.0, "the measured window"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for flag, (kind, default, meaning) in OPTIONS.items():
        parser.add_argument(flag, type=kind, default=default, help=f"{meaning} (default {default})")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="fedstate-idle-"))
    stack = LocalStack(workdir, clusters=args.clusters, clusters_per_process=args.clusters_per_process)
    result: dict[str, Any] = {"clusters": args.clusters, "clustersPerProcess": args.clusters_per_process}
    result["loadAverageStart"] = [round(v, 2) for v in os.getloadavg()]
    print(f"fedstate up: {args.clusters} clusters in {workdir}", file=sys.stderr)
    try:
        stack.up()
        result |= measure(stack, args)
    finally:
        stack.down()
    result["loadAverageEnd"] = [round(v, 2) for v in os.getloadavg()]
    result["workdir"] = str(workdir)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
