"""Failover: from a member cluster's failure to Health with every member replaced (issue 12, item 7).

    .venv/bin/python bench/failover.py --profile default --instances 3 --runs 2
    .venv/bin/python bench/failover.py --profile fast --instances 3 --runs 2

Each run starts a local stack of its own (``fedstate up``: NATS, the simulator with --clusters clusters, pod
start-up 0 s, every service) with the profile's failure settings in the environment, applies --instances
``MultiCloudMongoDB``s of --replicas members (5 over 4 clusters: 2+1+1+1, so every cluster holds members of
each) and waits until all are settled (Health, every member configured). A ``w:"majority"`` writer per
instance (the e2e tests' ledger) then writes without stopping; the bench fails the cluster holding members of
every instance (the most PRIMARYs among them) through the simulator's control API and waits until every
instance is settled again without it. Meanwhile it records every KV write of ``fs-placements``,
``fs-observed``, ``fs-status`` and ``fs-leases`` and every event, as they arrive (a plain NATS subscription
as the stack's admin); ``failover_timeline`` reads them into each instance's steps. At the end every
acknowledged write is read back (read concern majority, from the PRIMARY).

Prints each run's breakdown and the summary over every instance of every run as Markdown tables (stderr),
and one JSON document (stdout). The load average (1 min) is taken at each failure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import nats
from failover_timeline import (
    STEP_TITLES,
    Mark,
    breakdown,
    false_alarms,
    lease_renewals,
    silence,
    summary,
    table,
)
from scale import FAILURE_ENV, seen

from fedstate.api.resources import MULTICLOUD_MONGODB
from fedstate.bus.names import Bucket, InstanceKey, Kind, events_subject_all, kv_subject
from fedstate.cli.localstack import LocalStack
from fedstate.cli.records import load_state
from fedstate.cli.simulator import SimControl
from fedstate.settings import ServiceSettings

# The e2e tests' write ledger, used as it is rather than copied.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.e2e.ledger import WriteLedger

NAMESPACE = "default"
PASSWORD = "bench-failover"
# A platform team's faster choice: the default's ratios (NotReady after 4 missed heartbeats, members moved
# after 3 thresholds) on a 1 s heartbeat. What each costs: docs/performance.md, "Failover".
PROFILES: dict[str, dict[str, float]] = {
    "default": {option: ServiceSettings.model_fields[option].default for option in FAILURE_ENV},
    "fast": {"heartbeat_seconds": 1.0, "failure_threshold_seconds": 4.0, "failover_after_seconds": 12.0},
}
TAPPED = [*(kv_subject(b, ">") for b in (Bucket.PLACEMENTS, Bucket.OBSERVED, Bucket.STATUS, Bucket.LEASES))]
STEADY_HEARTBEATS = 3  # tapped before the failure, for the lease figures
WRITES_BEFORE = 10  # acknowledged per instance before the failure: the writers are going
STARTED = time.monotonic()


def say(text: str) -> None:
    print(f"[failover {time.monotonic() - STARTED:6.1f} s] {text}", file=sys.stderr, flush=True)


def instance_key(name: str) -> InstanceKey:
    return InstanceKey(NAMESPACE, NAMESPACE, Kind.MULTICLOUD_MONGODB, name)


def manifest(name: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": MULTICLOUD_MONGODB.api_version,
        "kind": MULTICLOUD_MONGODB.kind,
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"replicaset": replicas, "auth": {"rootPasswd": PASSWORD}},
    }


class Tap:
    """Every message on the tapped subjects, with the time it arrived."""

    def __init__(self) -> None:
        self.marks: list[Mark] = []
        self._nc: nats.NATS | None = None

    async def start(self, stack: LocalStack) -> None:
        self._nc = await nats.connect(servers=[stack.nats_url], **stack.nats_options())

        async def record(msg: Any) -> None:
            self.marks.append(Mark(time.time(), msg.subject, msg.data))

        for subject in (*TAPPED, events_subject_all()):
            await self._nc.subscribe(subject, cb=record, pending_msgs_limit=-1, pending_bytes_limit=-1)
        await self._nc.flush()

    async def steady(self, cluster: str, heartbeat: float) -> None:
        """Until the tap has run for STEADY_HEARTBEATS heartbeats and heard both leases of ``cluster`` renewed
        (the failure then falls at any point of a heartbeat, and its last renewals are known); 120 s at most."""
        started = time.time() if not self.marks else self.marks[0].at
        for _ in range(1200):
            now = time.time()
            heard = silence(self.marks, cluster, now, 0, 0)
            if now - started >= STEADY_HEARTBEATS * heartbeat and None not in (heard.agent_expired, heard.failover_due):
                return
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if self._nc is not None:
            await self._nc.close()


async def wait_settled(stack: LocalStack, names: list[str], failed: str | None, timeout: float) -> float:
    """Poll the gateway until every instance is settled (and holds nothing in ``failed``); seconds taken."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        listed = await asyncio.to_thread(stack.gateway.list_objects, MULTICLOUD_MONGODB, NAMESPACE)
        fleet = {obj.name: seen(obj) for obj in listed.items}
        if all(n in fleet and fleet[n].settled and failed not in fleet[n].clusters for n in names):
            return time.monotonic() - started
        await asyncio.sleep(0.5)
    raise SystemExit(f"instances not settled within {timeout:g} s (failed cluster: {failed})")


def choose_cluster(stack: LocalStack, names: list[str]) -> tuple[str, set[str]]:
    """The cluster holding members of every instance, the most PRIMARYs first; and whose PRIMARY it holds."""
    listed = {obj.name: obj.status or {} for obj in stack.gateway.list_objects(MULTICLOUD_MONGODB, NAMESPACE).items}
    holding: list[set[str]] = []
    primaries: Counter[str] = Counter()
    primary_of: dict[str, str] = {}
    for name in names:
        results = listed[name].get("result", [])
        holding.append({r["cluster"] for r in results if int(r.get("replicasetSpec") or 0) > 0})
        for r in results:
            if "PRIMARY" in r.get("connectAddrWithRole", {}).values():
                primaries[r["cluster"]] += 1
                primary_of[name] = r["cluster"]
    everywhere = set.intersection(*holding)
    if not everywhere:
        raise SystemExit(f"no cluster holds members of every instance: {holding}")
    cluster = max(sorted(everywhere), key=lambda c: primaries[c])
    return cluster, {n for n, c in primary_of.items() if c == cluster}


Measured = dict[str, float | None]  # step, total or lag → seconds


async def run_once(args: argparse.Namespace, run: int) -> tuple[dict[str, Any], list[Measured]]:
    settings = PROFILES[args.profile]
    os.environ.update({FAILURE_ENV[o]: f"{v:g}" for o, v in settings.items()})  # every process `up` starts inherits
    stack = LocalStack(Path(tempfile.mkdtemp(prefix="fedstate-failover-")), clusters=args.clusters)
    names = [f"failover-{i}" for i in range(args.instances)]
    say(f"run {run}: fedstate up, {args.clusters} clusters, profile {args.profile} {settings}")
    await asyncio.to_thread(stack.up)
    tap, ledger = Tap(), WriteLedger()
    try:
        await tap.start(stack)
        for name in names:
            await asyncio.to_thread(stack.gateway.put_object, MULTICLOUD_MONGODB, manifest(name, args.replicas))
        await wait_settled(stack, names, None, 300)
        for name in names:
            ledger.follow(name, lambda n=name: uri(stack, n))  # type: ignore[misc]
        await asyncio.to_thread(writes_going, ledger)
        cluster, primaries = await asyncio.to_thread(choose_cluster, stack, names)
        await tap.steady(cluster, settings["heartbeat_seconds"])
        state = load_state(stack.paths)
        assert state is not None
        load = os.getloadavg()[0]
        say(f"run {run}: failing {cluster} (PRIMARY of {len(primaries)} of {len(names)}), load {load:.1f}")
        failed_at = time.time()
        await asyncio.to_thread(SimControl(state.sim_control_url).post, f"/sim/clusters/{cluster}/fail")
        acknowledged = {n: len(w.acknowledged) for n, w in ledger.writers.items()}
        timeout = settings["failover_after_seconds"] + args.timeout
        settled = await wait_settled(stack, names, cluster, timeout)
        say(f"run {run}: every instance settled without {cluster} {settled:.1f} s after the failure")
        await asyncio.to_thread(ledger.stop)
        lost = await asyncio.to_thread(ledger.lost)
    finally:
        await asyncio.to_thread(ledger.stop)
        await tap.stop()
        await asyncio.to_thread(stack.down)
    marks = tap.marks
    breakdowns = [breakdown(marks, instance_key(n), cluster, failed_at) for n in names]
    quiet = silence(
        marks, cluster, failed_at, settings["failure_threshold_seconds"], settings["failover_after_seconds"]
    )
    measured = [{**b.steps(), **b.past_the_waits(quiet)} for b in breakdowns]
    writers = ledger.writers
    return {
        "run": run,
        "cluster": cluster,
        "loadAverageAtFailure": round(load, 2),
        "leaseWritesPerSecondBefore": round(lease_renewals(marks, marks[0].at, failed_at), 2),
        "falseAlarms": false_alarms(marks, cluster, [c.name for c in state.clusters]),
        "messagesTapped": dict(Counter(".".join(m.subject.split(".")[:3]) for m in marks).most_common()),
        "instances": [
            {
                "name": n,
                "moved": b.moved,
                "breakdown": {k: round(v, 2) if v is not None else None for k, v in m.items()},
                "primaryInFailedCluster": n in primaries,
                "writesAcknowledged": len(writers[n].acknowledged),
                "writesAcknowledgedAfterFailure": len(writers[n].acknowledged) - acknowledged[n],
                "writesFailed": writers[n].failed,
                "writesLost": len(lost.get(n, [])),
            }
            for n, b, m in zip(names, breakdowns, measured, strict=True)
        ],
        "workdir": str(stack.workdir),
    }, measured


def writes_going(ledger: WriteLedger) -> None:
    """Until every writer has WRITES_BEFORE acknowledged writes."""
    while any(len(w.acknowledged) < WRITES_BEFORE for w in ledger.writers.values()):
        time.sleep(0.2)


def uri(stack: LocalStack, name: str) -> str | None:
    status = stack.status(name)
    addresses = status.get("externalAddr")
    return f"mongodb://root:{PASSWORD}@{addresses}/?replicaSet={name}&authSource=admin" if addresses else None


def run_table(run: dict[str, Any]) -> str:
    """One run, an instance a row: each step's own seconds and the writes."""
    head = "| instance | moved | PRIMARY lost | " + " | ".join(STEP_TITLES) + " | writes ack / failed / lost |"
    lines = [head, "|---" * (len(STEP_TITLES) + 4) + "|"]
    for i in run["instances"]:
        steps = i["breakdown"]
        cells = " | ".join(f"{steps[s]:.1f}" if steps[s] is not None else "—" for s in STEP_TITLES)
        writes = f"{i['writesAcknowledged']} / {i['writesFailed']} / {i['writesLost']}"
        lines.append(
            f"| {i['name']} | {i['moved']} | {'yes' if i['primaryInFailedCluster'] else 'no'} | {cells} | {writes} |"
        )
    return "\n".join(lines)


def report(args: argparse.Namespace, runs: list[dict[str, Any]], measured: list[Measured]) -> dict[str, Any]:
    """Print each run's table and the summary (stderr); the JSON document."""
    loads = [r["loadAverageAtFailure"] for r in runs]
    load = f"{min(loads):.1f} to {max(loads):.1f}" if len(loads) > 1 else f"{loads[0]:.1f}"
    rows = summary(measured)
    lost = sum(i["writesLost"] for r in runs for i in r["instances"])
    for r in runs:
        say(
            f"run {r['run']}: {r['cluster']} failed at load {r['loadAverageAtFailure']}; {r['leaseWritesPerSecondBefore']} lease writes/s before"
        )
        print(run_table(r), file=sys.stderr)
    say(
        f"{args.profile} profile {PROFILES[args.profile]}, {args.instances} instances of {args.replicas}, {len(runs)} runs"
    )
    print(table(rows, len(measured), load), file=sys.stderr)
    say(f"writes lost: {lost}; false alarms: {sum(len(r['falseAlarms']) for r in runs)}")
    return {
        "profile": args.profile,
        "settings": {FAILURE_ENV[o]: v for o, v in PROFILES[args.profile].items()},
        "clusters": args.clusters,
        "replicas": args.replicas,
        "summary": [row.__dict__ for row in rows],
        "writesLost": lost,
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="default")
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--clusters", type=int, default=4)
    parser.add_argument("--replicas", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=300, help="seconds past failover-after to settle in")
    args = parser.parse_args()
    runs: list[dict[str, Any]] = []
    measured: list[Measured] = []
    for run in range(1, args.runs + 1):
        result, figures = asyncio.run(run_once(args, run))
        runs.append(result)
        measured += figures
    print(json.dumps(report(args, runs, measured), indent=2))


if __name__ == "__main__":
    main()
