"""Fleet size: what the whole local stack costs as the number of clusters and instances grows (issue 9, item 4).

    .venv/bin/python bench/scale.py --clusters 5 --instances 20 > scale.json
    .venv/bin/python bench/scale.py --clusters 5 --growth 10,20,40 --csv growth.csv > growth.json
    .venv/bin/python bench/scale.py --clusters 50 --instances 300 --clusters-per-process 10 > scale.json

Starts a local stack (``fedstate up`` in a scratch directory: NATS, the simulator with --clusters clusters,
pod start-up 0 s, a collector and an agent per cluster, scheduler, federation, gateway), then runs the phases:

- create: applies --instances ``MultiCloudMongoDB``s of 3-7 members (sizes drawn with --seed) all at once,
  through the gateway's REST API with --concurrency requests in flight, and follows the gateway's watch of the
  list until every one is settled (Health, status of the current generation, every member configured and
  updated); a full list every --list-seconds measures how the gateway answers under that load;
- steady: waits until the instance buckets stop changing (at most --quiet-timeout s), then --steady-delay s
  (the agents close a steady set's pymongo clients 30 s after their last use), then, from midway between two of
  the leases' shared beats (``scale_probes.until_steady_window``), measures --steady-seconds of doing nothing
  but being scraped: every process's /metrics every --scrape-seconds, as a Prometheus would (0: not scraped);
- scale (optional): adds --scale-by members to --scale-fraction of the instances at once, until all settled;
- fail (optional): ``fedstate sim fail`` on --fail-cluster, until every instance that had members there is
  settled without them. Failover waits FEDSTATE_FAILOVER_AFTER_SECONDS (60 s by default): shorten it, and
  the heartbeat and threshold it builds on, with --failover-after-seconds and its two neighbours.

Per phase: seconds; CPU-seconds per service kind (from /proc, whole sessions); KV writes per bucket and per
instance (last-sequence differences of the KV streams); messages published on the bus, per kind of subject
and per instance; JetStream API calls and errors; error lines per log. At the end: peak RSS per service
kind, consumers per stream, processes that exited. The simulator's mongods run in one child process per
2,000 members (--sim-member-processes; counted as the simulator), at nice -15 (--sim-nice): they stand for
machines of their own, which the control plane's load on this one must not slow down (their session's autogroup
too: with autogroups the kernel shares the CPU by session first). One JSON document on stdout, tables on stderr. With
--growth, each instance count runs on a fresh stack and a growth table follows. The scratch directory
(with .fedstate/logs) is kept and named in the JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
from scale_probes import (
    COLLECTOR_RESYNC_SECONDS,
    HEARTBEAT_SECONDS,
    BusProbe,
    process_usage,
    reconcile_passes,
    scan_logs,
    scrape_like_prometheus,
    until_steady_window,
)
from scale_report import (
    Snapshot,
    cpu_since_start,
    end_figures,
    phase_figures,
    plot_growth,
    print_growth,
    print_run,
    steady_figures,
)

from fedstate.api.resources import MULTICLOUD_MONGODB
from fedstate.api.views import ObjectView
from fedstate.api.watch import DELETED, GONE
from fedstate.bus.names import Bucket, kv_stream
from fedstate.cli.client import ApiFailure
from fedstate.cli.errors import CliError
from fedstate.cli.localstack import LocalStack
from fedstate.cli.records import StackState, load_state
from fedstate.models.multicloud import InstanceState

NAMESPACE = "default"
PHASES = ("create", "scale", "fail")
MEMBERS = (3, 7)
# The agent closes a steady set's pymongo clients once unused for 30 s (CLIENT_IDLE_SECONDS); until then their
# monitors cost CPU, so the steady window starts after that, with some slack.
STEADY_DELAY_SECONDS = 40.0
# The simulated clusters stand for machines of their own: on this shared machine their API servers and mongods
# run ahead of the control plane, so that the control plane's own load does not make the world it manages look
# slow or dead. With the kernel's autogroups every session (each service `fedstate up` starts) gets an equal share
# of the CPU whatever its processes' nice values, so the simulator's whole session is given a lower autogroup
# nice: at 100 x 1,000 it got 7 % of a core against 25 other sessions, and its 100 APIs stopped answering
# /version within 30 s; at autogroup nice -20 they answered in 80 ms.
SIM_NICE = -15
# A simulated mongod holds about four open files (its listener, the agent's connections); a process may hold
# 20,000 here and cannot raise that, so 2,000 members per simulator process keeps well clear of it.
MEMBERS_PER_SIM_PROCESS = 2_000
# Buckets written only when an instance changes; fs-clusters and fs-leases are renewed on a period by design.
INSTANCE_STREAMS = tuple(
    kv_stream(bucket) for bucket in (Bucket.SPEC, Bucket.PLACEMENTS, Bucket.DATAPLANE, Bucket.OBSERVED, Bucket.STATUS)
)
FAILURE_ENV = {
    "heartbeat_seconds": "FEDSTATE_HEARTBEAT_SECONDS",
    "failure_threshold_seconds": "FEDSTATE_FAILURE_THRESHOLD_SECONDS",
    "failover_after_seconds": "FEDSTATE_FAILOVER_AFTER_SECONDS",
}
STARTED = time.monotonic()


def say(text: str) -> None:
    print(f"[scale {time.monotonic() - STARTED:6.1f} s] {text}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Options:
    clusters: int
    instances: int
    seed: int
    phases: tuple[str, ...]
    steady_seconds: float
    quiet_seconds: float
    quiet_timeout: float
    timeout: float
    poll_seconds: float
    list_seconds: float
    concurrency: int
    scale_fraction: float
    scale_by: int
    fail_cluster: str | None
    election_ms: int
    failure_env: dict[str, str]
    clusters_per_process: int = 1
    sim_member_processes: int = 0  # 0: one per MEMBERS_PER_SIM_PROCESS members
    steady_delay: float = STEADY_DELAY_SECONDS
    sim_nice: int = SIM_NICE
    scrape_seconds: float = 0  # a Prometheus scraping every process this often in the steady window; 0: none


def prioritise_simulator(stack: LocalStack, nice: int) -> int:
    """Give the simulator's session (its autogroup, where the kernel has them) and each of its processes the nice
    value ``nice`` (0: leave them alone)."""
    if nice:
        ready = json.loads(stack.paths.sim_ready.read_text())
        autogroup = Path(f"/proc/{ready['pid']}/autogroup")
        if autogroup.exists():
            autogroup.write_text(str(nice))
        for pid in [ready["pid"], *ready.get("memberPids", [])]:
            os.setpriority(os.PRIO_PROCESS, int(pid), nice)
    return nice


def member_processes(members: int) -> int:
    """Enough simulator member processes that none nears its open-file limit (about four files per member)."""
    return max(1, math.ceil(members / MEMBERS_PER_SIM_PROCESS))


def member_counts(instances: int, seed: int) -> dict[str, int]:
    """``scale-<i>`` → its replicaset, 3 to 7 members, the same for the same seed."""
    rng = random.Random(seed)
    return {f"scale-{i}": rng.randint(*MEMBERS) for i in range(instances)}


def manifest(name: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": MULTICLOUD_MONGODB.api_version,
        "kind": MULTICLOUD_MONGODB.kind,
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"replicaset": replicas},
    }


# ------------------------------------------------------------------------------------ the fleet, as listed


@dataclass(frozen=True)
class Seen:
    """One instance as one list of the gateway showed it."""

    state: str
    settled: bool  # Health, status of the current generation, every member configured and updated
    members: int
    clusters: frozenset[str]  # where it has members
    why: str = ""  # the first condition that is not True: "type: message"


def seen(obj: ObjectView) -> Seen:
    status = obj.status or {}
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions", [])}
    why = next(
        (f"{c.get('type')}: {c.get('message')}" for c in status.get("conditions", []) if c.get("status") != "True"), ""
    )
    placed = [r for r in status.get("result", []) if int(r.get("replicasetSpec") or 0) > 0]
    settled = (
        status.get("state") == InstanceState.HEALTH
        and status.get("observedGeneration") == obj.metadata.get("generation")
        and conditions.get("MembersConfigured") == "True"
        and conditions.get("MembersUpdated") == "True"
    )
    members = sum(int(r["replicasetSpec"]) for r in placed)
    clusters = frozenset(str(r["cluster"]) for r in placed)
    return Seen(str(status.get("state", "")), settled, members, clusters, why)


Done = Callable[[str, Seen], bool]


@dataclass
class Waited:
    """How a wait for a set of instances went, in seconds since the phase started."""

    seconds: float | None = None  # every one done in the same list; None: timed out
    done_at: dict[str, float] = field(default_factory=dict)  # first list in which each was done
    left_health: list[tuple[str, str, float]] = field(default_factory=list)  # (name, new state, at)
    peak_consumers: dict[str, int] = field(default_factory=dict)
    not_done: Counter[str] = field(default_factory=Counter)  # state → instances not done at the end
    stuck: list[str] = field(default_factory=list)  # a few of them, with the condition that says why
    slowest_list: float = 0.0  # seconds the gateway took for its slowest list
    failed_lists: list[str] = field(default_factory=list)

    def told(self, done: str) -> str:
        return f"{done} in {self.seconds:.1f} s" if self.seconds is not None else "timed out"

    def report(self, names: Collection[str]) -> dict[str, Any]:
        times = sorted(self.done_at.values())
        report: dict[str, Any] = {"instances": len(names)}
        report["seconds"] = round(self.seconds, 2) if self.seconds is not None else None
        if times:
            p90 = times[min(len(times) - 1, round(0.9 * (len(times) - 1)))]
            report["settledSeconds"] = {"p50": round(statistics.median(times), 2), "p90": round(p90, 2),
                                        "max": round(times[-1], 2)}  # fmt: skip
        if self.not_done:
            report["notSettledAtTimeout"] = dict(self.not_done)
            report["notSettledFirst"] = self.stuck
        report["leftHealth"] = len(self.left_health)
        report["leftHealthFirst"] = [
            f"{n}: Health → {s or 'no state'} at {at:.1f} s" for n, s, at in self.left_health[:5]
        ]
        report["peakConsumersPerStream"] = dict(sorted(self.peak_consumers.items()))
        report["slowestGatewayListSeconds"] = round(self.slowest_list, 2)
        report["failedGatewayLists"] = len(self.failed_lists)
        report["failedGatewayListsFirst"] = self.failed_lists[:5]
        return report


class FleetWatch:
    """The fleet as the gateway's watch tells it: listed once, then each change as it happens (a thread follows
    the watch; ``fedstate.api.watch`` resumes it where the gateway ended a stream). The bench used to list the
    whole fleet every second: at 1,000 instances that cost the gateway and the bench about 17 CPU-s of a create,
    on the two cores the stack itself runs on."""

    def __init__(self, run: Run) -> None:
        self._run = run
        self.fleet: dict[str, Seen] = {}
        self.changed = asyncio.Event()
        self.lost: str | None = None  # why the watch ended, when it did before the stack went down

    async def start(self) -> None:
        since = await self._list()
        loop = asyncio.get_running_loop()
        threading.Thread(target=self._follow, args=(since, loop), name="fleet-watch", daemon=True).start()

    async def _list(self) -> str:
        listed = await asyncio.to_thread(self._run.stack.gateway.list_objects, MULTICLOUD_MONGODB, NAMESPACE)
        self.fleet = {obj.name: seen(obj) for obj in listed.items}
        self.changed.set()
        return str(listed.wire["metadata"]["resourceVersion"])

    def _follow(self, since: str, loop: asyncio.AbstractEventLoop) -> None:
        gateway = self._run.stack.gateway
        while True:
            try:
                for type_, obj in gateway.watch_objects(MULTICLOUD_MONGODB, NAMESPACE, since, None, None):
                    loop.call_soon_threadsafe(self._told, obj.name, None if type_ == DELETED else seen(obj))
                return
            except CliError as error:
                if isinstance(error, ApiFailure) and error.status.code == GONE:
                    # too far behind to resume: list again, and follow from that list
                    since = asyncio.run_coroutine_threadsafe(self._list(), loop).result()
                    continue
                # the stack going down ends the watch; before that, the wait says so
                loop.call_soon_threadsafe(setattr, self, "lost", str(error))
                return

    def _told(self, name: str, instance: Seen | None) -> None:
        if instance is None:
            self.fleet.pop(name, None)
        else:
            self.fleet[name] = instance
        self.changed.set()


@dataclass
class Run:
    options: Options
    stack: LocalStack
    state: StackState
    probe: BusProbe
    wanted: dict[str, int]  # name → members, as last applied
    last_states: dict[str, str] = field(default_factory=dict)
    lists: int = 0
    watch: FleetWatch | None = None

    async def fleet(self) -> dict[str, Seen]:
        self.lists += 1
        listed = await asyncio.to_thread(self.stack.gateway.list_objects, MULTICLOUD_MONGODB, NAMESPACE)
        return {obj.name: seen(obj) for obj in listed.items}

    async def snapshot(self, *, opening: bool = False, wait: Callable[[], float] = lambda: 0.0) -> Snapshot:
        """Every counter, read at ``at``, the window's end. An ``opening`` snapshot scrapes every process's /metrics
        for its reconcile passes first and reads the rest ``wait()`` seconds later: the scrape costs them CPU, which
        is the bench's load, not the stack's, and the bus's counters must open the same window as the CPU's."""
        passes = await reconcile_passes(self.state.processes) if opening else None
        await asyncio.sleep(wait())
        logs = await asyncio.to_thread(scan_logs, Path(self.state.log_dir))
        bus = await self.probe.figures()
        at = time.monotonic()
        usage = await asyncio.to_thread(process_usage, self.state.processes)
        if passes is None:
            passes = await reconcile_passes(self.state.processes)
        return Snapshot(at, usage, bus, logs, time.process_time(), self.lists, passes)

    def settled(self, name: str, instance: Seen) -> bool:
        return instance.settled and instance.members == self.wanted[name]

    async def wait(self, names: Collection[str], done: Done, started: float) -> Waited:
        """Follow the fleet until every one of ``names`` is ``done`` at the same moment, or --timeout; list it
        every --list-seconds too, for how long the gateway takes to answer a list under load."""
        waited = Waited()
        watch = self.watch
        assert watch is not None, "the fleet watch starts with the run"
        next_list = next_probe = 0.0
        while True:
            watch.changed.clear()
            at = time.monotonic() - started
            if at >= next_list:
                next_list = at + self.options.list_seconds
                try:
                    await self.fleet()
                    waited.slowest_list = max(waited.slowest_list, time.monotonic() - started - at)
                except CliError as error:  # the gateway failed or did not answer in time: say so
                    waited.failed_lists.append(f"at {at:.1f} s: {error}"[:200])
            if at >= next_probe:
                next_probe = at + self.options.poll_seconds
                for stream, figures in (await self.probe.streams()).items():
                    waited.peak_consumers[stream] = max(waited.peak_consumers.get(stream, 0), figures.consumers)
            if watch.lost is not None:
                raise SystemExit(f"the gateway's watch ended: {watch.lost}")
            fleet = watch.fleet
            self._note_health(fleet, waited, at)
            pending = [n for n in names if n not in fleet or not done(n, fleet[n])]
            for name in set(names) - set(pending):
                waited.done_at.setdefault(name, at)
            if not pending:
                waited.seconds = at
                return waited
            if at > self.options.timeout:
                waited.not_done = Counter(fleet[n].state if n in fleet else "not listed" for n in pending)
                waited.stuck = [f"{n} ({fleet[n].state}) {fleet[n].why}"[:300] for n in pending[:5] if n in fleet]
                return waited
            # Woken by the next change, but at most ten times a second: each look goes over every pending name.
            await asyncio.sleep(0.1)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(watch.changed.wait(), self.options.poll_seconds)

    def _note_health(self, fleet: dict[str, Seen], waited: Waited, at: float) -> None:
        for name, instance in fleet.items():
            if self.last_states.get(name) == InstanceState.HEALTH and instance.state != InstanceState.HEALTH:
                waited.left_health.append((name, instance.state, at))
            self.last_states[name] = instance.state


async def apply_all(run: Run, wanted: dict[str, int]) -> dict[str, Any]:
    """PUT every manifest at once, --concurrency in flight; seconds until the last answer, and failures."""
    limit = asyncio.Semaphore(run.options.concurrency)
    failures: Counter[str] = Counter()

    async def put(http: httpx.AsyncClient, name: str, replicas: int) -> None:
        async with limit:
            try:
                response = await http.put(MULTICLOUD_MONGODB.item_path(NAMESPACE, name), json=manifest(name, replicas))
            except httpx.HTTPError as error:
                failures[f"{type(error).__name__}: {error}"[:160]] += 1
                return
        if response.is_error:
            failures[f"HTTP {response.status_code}: {response.text}"[:160]] += 1

    started = time.monotonic()
    async with httpx.AsyncClient(base_url=run.state.api_url, timeout=120, headers=run.stack.gateway.headers) as http:
        await asyncio.gather(*(put(http, name, replicas) for name, replicas in wanted.items()))
    run.wanted.update(wanted)
    return {"applySeconds": round(time.monotonic() - started, 2), "applyFailures": dict(failures)}


# -------------------------------------------------------------------------------------------------- phases


Act = Callable[[], Awaitable[dict[str, Any]]]


async def timed(run: Run, phase: str, names: Collection[str], act: Act, done: Done) -> tuple[dict[str, Any], Waited]:
    """Snapshot, ``act``, wait until every one of ``names`` is ``done``, snapshot: the phase's report."""
    before = await run.snapshot(opening=True)
    started = time.monotonic()
    acted = await act()
    waited = await run.wait(names, done, started)
    after = await run.snapshot()
    say(f"{phase}: {waited.told('all settled')}")
    return {**waited.report(names), **acted, **phase_figures(before, after, len(names))}, waited


async def create_phase(run: Run, sizes: dict[str, int]) -> dict[str, Any]:
    say(f"create: applying {len(sizes)} instances ({sum(sizes.values())} members)")
    report, _ = await timed(run, "create", sizes, lambda: apply_all(run, sizes), run.settled)
    return report


async def quiet(run: Run) -> dict[str, Any]:
    """Until the instance buckets see no write for --quiet-seconds (at most --quiet-timeout)."""
    started = time.monotonic()
    last: list[int] = []
    since = started
    while True:
        streams = await run.probe.streams()
        sequences = [streams[s].last_seq if s in streams else 0 for s in INSTANCE_STREAMS]
        now = time.monotonic()
        if sequences != last:
            last, since = sequences, now
        if now - since >= run.options.quiet_seconds or now - started >= run.options.quiet_timeout:
            reached = now - since >= run.options.quiet_seconds
            return {"reached": reached, "lastWriteAfterSeconds": round(since - started, 2)}
        await asyncio.sleep(0.5)


async def steady_phase(run: Run) -> dict[str, Any]:
    settled = await quiet(run)
    reached = "reached" if settled["reached"] else "NOT reached"
    say(f"steady: quiet {reached}; {run.options.steady_delay:g} s for the agents' clients to close, then measuring "
        f"{run.options.steady_seconds:g} s")  # fmt: skip
    await asyncio.sleep(run.options.steady_delay)
    heartbeat = float(run.options.failure_env.get(FAILURE_ENV["heartbeat_seconds"], HEARTBEAT_SECONDS))
    before = await run.snapshot(
        opening=True, wait=lambda: until_steady_window(time.time(), COLLECTOR_RESYNC_SECONDS, heartbeat)
    )
    slowest_scrape: dict[str, float] = {}
    prometheus = (
        asyncio.create_task(scrape_like_prometheus(run.state.processes, run.options.scrape_seconds, slowest_scrape))
        if run.options.scrape_seconds > 0
        else None
    )
    # Reading the other counters takes seconds at 1,000 instances: the window is --steady-seconds from CPU reading
    # to CPU reading, so that it holds whole periods of the beats.
    await asyncio.sleep(max(0.0, run.options.steady_seconds - (time.monotonic() - before.at)))
    if prometheus is not None:
        prometheus.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await prometheus
    after = await run.snapshot()
    fleet = await run.fleet()
    unsettled = Counter(s.state for n, s in fleet.items() if not run.settled(n, s))
    scraped = {
        "scrapeEverySeconds": run.options.scrape_seconds,
        "slowestScrapeSeconds": {k: round(v, 3) for k, v in slowest_scrape.items()},
    }
    return {"quiet": settled, **steady_figures(before, after), **scraped, "notSettledAfter": dict(unsettled)}


async def scale_phase(run: Run) -> dict[str, Any]:
    rng = random.Random(run.options.seed + 1)
    count = max(1, round(len(run.wanted) * run.options.scale_fraction))
    chosen = {n: run.wanted[n] + run.options.scale_by for n in sorted(rng.sample(sorted(run.wanted), count))}
    say(f"scale: {count} instances get {run.options.scale_by} more members")
    report, _ = await timed(run, "scale", chosen, lambda: apply_all(run, chosen), run.settled)
    return report


async def fail_phase(run: Run) -> dict[str, Any]:
    cluster = run.options.fail_cluster or run.state.clusters[0].name
    affected = sorted(n for n, s in (await run.fleet()).items() if cluster in s.clusters)
    if not affected:
        return {"cluster": cluster, "instances": 0, "skipped": "no instance has members there"}
    say(f"fail: cluster {cluster} fails; {len(affected)} instances have members there")

    async def fail() -> dict[str, Any]:
        await asyncio.to_thread(run.stack.cli, "sim", "fail", cluster)
        return {"cluster": cluster}

    def moved(name: str, instance: Seen) -> bool:
        return run.settled(name, instance) and cluster not in instance.clusters

    report, waited = await timed(run, "fail", affected, fail, moved)
    hit = [at for name, _, at in waited.left_health if name in affected]
    report["firstLeftHealthSeconds"] = round(min(hit), 2) if hit else None
    report["unaffectedThatLeftHealth"] = len({name for name, _, _ in waited.left_health if name not in affected})
    return report


# --------------------------------------------------------------------------------------------------- a run


async def measure(run: Run, sizes: dict[str, int], up: Snapshot, up_seconds: float) -> dict[str, Any]:
    options = run.options
    phases: dict[str, Any] = {"create": await create_phase(run, sizes)}
    if phases["create"]["seconds"] is None:
        say("create timed out: the other phases need a settled fleet and are skipped")
    else:
        if options.steady_seconds > 0:
            phases["steady"] = await steady_phase(run)
        if "scale" in options.phases:
            phases["scale"] = await scale_phase(run)
        if "fail" in options.phases:
            phases["fail"] = await fail_phase(run)
    startup = {"seconds": round(up_seconds, 1), "cpuSeconds": cpu_since_start(up)}
    return {"startup": startup, "phases": phases, "end": end_figures(await run.snapshot())}


async def run_once(options: Options) -> dict[str, Any]:
    os.environ.update(options.failure_env)  # inherited by every process `fedstate up` starts
    workdir = Path(tempfile.mkdtemp(prefix="fedstate-scale-"))
    sizes = member_counts(options.instances, options.seed)
    stack = LocalStack(
        workdir,
        clusters=options.clusters,
        election_timeout_millis=options.election_ms,
        clusters_per_process=options.clusters_per_process,
        sim_member_processes=options.sim_member_processes or member_processes(sum(sizes.values())),
    )
    result: dict[str, Any] = {
        "clusters": options.clusters,
        "instances": options.instances,
        "members": sum(sizes.values()),
        "membersPerInstance": dict(sorted(Counter(sizes.values()).items())),
        "seed": options.seed,
        "electionTimeoutMillis": options.election_ms,
        "clustersPerProcess": options.clusters_per_process,
        "simMemberProcesses": stack.sim_member_processes,
        "environment": options.failure_env,
        "workdir": str(workdir),
        "cpus": os.cpu_count(),
        "loadAverage": {"start": [round(v, 2) for v in os.getloadavg()]},
    }
    say(f"fedstate up: {options.clusters} clusters in {workdir}")
    started = time.monotonic()
    try:
        await asyncio.to_thread(stack.up)
        result["simulatorNice"] = prioritise_simulator(stack, options.sim_nice)
        state = load_state(stack.paths)
        assert state is not None, "fedstate up wrote no state"
        run = Run(options, stack, state, await BusProbe.open(state.nats_url, stack.nats_options()), {})
        run.watch = FleetWatch(run)
        await run.watch.start()
        up = await run.snapshot()
        result.update(await measure(run, sizes, up, time.monotonic() - started))
        await run.probe.close()
    finally:
        say("fedstate down")
        await asyncio.to_thread(stack.down)
    result["loadAverage"]["end"] = [round(v, 2) for v in os.getloadavg()]
    return result


# ---------------------------------------------------------------------------------------------------- main


def parse(argv: list[str] | None = None) -> tuple[Options, list[int], Path | None, Path | None]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clusters", type=int, default=3)
    parser.add_argument("--instances", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--phases", default="create", help="create[,scale][,fail] (create always runs)")
    parser.add_argument("--steady-seconds", type=float, default=60, help="steady-state window; 0 skips it")
    parser.add_argument(
        "--sim-nice", type=int, default=SIM_NICE, help="nice value of the simulator's processes (0: unchanged)"
    )
    parser.add_argument(
        "--steady-delay", type=float, default=STEADY_DELAY_SECONDS, help="after quiet, before the steady window"
    )
    parser.add_argument(
        "--scrape-seconds",
        type=float,
        default=15,
        help="in the steady window, scrape every process's /metrics this often, as a Prometheus would (0: never)",
    )
    parser.add_argument("--quiet-seconds", type=float, default=5, help="no instance-bucket write this long = quiet")
    parser.add_argument("--quiet-timeout", type=float, default=60, help="measure steady state anyway after this")
    parser.add_argument("--timeout", type=float, default=600, help="seconds a phase may take to settle")
    parser.add_argument("--poll-seconds", type=float, default=1.0, help="between two looks at the streams' consumers")
    parser.add_argument("--list-seconds", type=float, default=10.0, help="between two full lists of the gateway")
    parser.add_argument("--concurrency", type=int, default=32, help="PUT requests in flight")
    parser.add_argument("--scale-fraction", type=float, default=0.1)
    parser.add_argument("--scale-by", type=int, default=2, help="members added to each scaled instance")
    parser.add_argument("--fail-cluster", help="default: the first cluster")
    parser.add_argument("--election-ms", type=int, default=1000, help="the simulated mongod's election timeout")
    parser.add_argument(
        "--clusters-per-process", type=int, default=1, help="clusters whose collectors (and agents) share a process"
    )
    parser.add_argument(
        "--sim-member-processes",
        type=int,
        default=0,
        help=f"processes running the simulated mongods (default: one per {MEMBERS_PER_SIM_PROCESS:,} members)",
    )
    for option in FAILURE_ENV:
        parser.add_argument(f"--{option.replace('_', '-')}", type=float, help=f"sets {FAILURE_ENV[option]}")
    parser.add_argument("--growth", help="N,M,...: one run per instance count, then a growth table")
    parser.add_argument("--csv", type=Path, help="write the growth table here too")
    parser.add_argument("--plot", type=Path, help="with --growth: draw it here (.svg or .png; needs matplotlib)")
    args = parser.parse_args(argv)
    phases = tuple(p.strip() for p in args.phases.split(",") if p.strip())
    if unknown := set(phases) - set(PHASES):
        parser.error(f"--phases: unknown phase {', '.join(sorted(unknown))} (known: {', '.join(PHASES)})")
    env = {FAILURE_ENV[o]: f"{getattr(args, o):g}" for o in FAILURE_ENV if getattr(args, o) is not None}
    options = Options(
        args.clusters, args.instances, args.seed, phases, args.steady_seconds, args.quiet_seconds,
        args.quiet_timeout, args.timeout, args.poll_seconds, args.list_seconds, args.concurrency, args.scale_fraction,
        args.scale_by, args.fail_cluster, args.election_ms, env, args.clusters_per_process,
        args.sim_member_processes, args.steady_delay, args.sim_nice, args.scrape_seconds,
    )  # fmt: skip
    growth = [int(n) for n in args.growth.split(",")] if args.growth else []
    return options, growth, args.csv, args.plot


def main() -> None:
    options, growth, csv_path, plot_path = parse()
    if not growth:
        result = asyncio.run(run_once(options))
        print_run(result)
        print(json.dumps(result, indent=2))
        return
    results = []
    for instances in growth:
        results.append(asyncio.run(run_once(replace(options, instances=instances))))
        print_run(results[-1])
    print_growth(results, csv_path)
    if plot_path is not None:
        plot_growth(results, plot_path)
    print(json.dumps({"runs": results}, indent=2))


if __name__ == "__main__":
    main()
