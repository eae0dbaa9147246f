"""Start-up time and idle cost of the whole simulator: N clusters, M mongod members, one process.

Runs ``python -m fedstate_sim --config FILE --ready-file FILE`` as a separate process (so the
measured process is the simulator alone), then drives it the way the product does:

1. through each cluster's Kubernetes HTTP API (aiohttp, bounded concurrency), creates in namespace
   ``default`` one NodePort Service and one single-replica StatefulSet per member, whose container
   runs ``mongod --replSet <set>`` with a PVC template (the data-plane agent's shape); members are
   grouped into replica sets of ``--set-size`` members, each set spread over that many clusters;
2. waits (one pod watch per cluster) until every pod is Ready;
3. waits until every member (or ``--hello-sample`` of them) answers ``hello`` through pymongo (a
   direct connection whose monitor's hello must describe a replica-set member);
4. initiates every set with pymongo (``replSetInitiate``, hosts ``VIP:nodePort``) and waits until
   each set's ``replSetGetStatus`` shows one PRIMARY and only SECONDARY otherwise;
5. drops every client connection, lets the sets settle, then reads the simulator's CPU time
   (``/proc/<pid>/stat`` utime+stime) over ``--idle-seconds`` and its RSS.

Times are seconds since the simulator was launched; the simulator's and the bench's own CPU
seconds are given at the same milestones (both share the machine). The simulator is SIGTERMed at
the end, also on failure. Prints one JSON document; exit status 1 on failure.

    .venv/bin/python bench/sim_world.py --clusters 100 --members-per-cluster 50 --set-size 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
import yaml
from pymongo import AsyncMongoClient
from pymongo.errors import OperationFailure, PyMongoError

from fedstate_sim.kube.tokens import ADMIN_TOKEN

T = TypeVar("T")
NAMESPACE = "default"
MONGO_PORT = 27017
BENCH_LABEL = ("fedstate.io/bench", "sim-world")
INSTANCE_LABEL = "app.kubernetes.io/instance"
MEMBER_LABEL = "fedstate.io/member"
MAX_VOTERS = 7
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
ALREADY_INITIALIZED = 23
REPLICA_SET_MEMBER_TYPES = ("RSGhost", "RSPrimary", "RSSecondary", "RSOther", "RSArbiter")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--clusters", type=int, default=100)
    parser.add_argument("--members-per-cluster", type=int, default=50)
    parser.add_argument("--set-size", type=int, default=5, help="members per replica set, each in another cluster")
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument(
        "--settle-seconds", type=float, default=6.0, help="wait after the last primary and before measuring"
    )
    parser.add_argument("--nodes", type=int, default=3, help="nodes per cluster")
    parser.add_argument("--node-cpu", default="64")
    parser.add_argument("--node-memory", default="256Gi")
    parser.add_argument("--image", default="mongo:7.0")
    parser.add_argument("--hello-sample", type=int, default=0, help="members checked with hello (0 = all)")
    parser.add_argument("--api-concurrency", type=int, default=64, help="Kubernetes API requests in flight")
    parser.add_argument("--mongo-concurrency", type=int, default=64, help="pymongo operations in flight")
    parser.add_argument("--election-timeout-millis", type=int, help="passed to the simulator (default: its own)")
    parser.add_argument("--timeout", type=float, default=300.0, help="limit for each phase, seconds")
    parser.add_argument("--sim-log-level", default="INFO", help="the simulator's --log-level")
    parser.add_argument("--keep-workdir", action="store_true", help="keep the config, ready file and simulator log")
    parser.add_argument("--profile-simulator", type=Path, help="run the simulator under cProfile, stats to this file")
    args = parser.parse_args(argv)
    if not 1 <= args.set_size <= args.clusters:
        parser.error("--set-size must be between 1 and --clusters (one member of a set per cluster)")
    if (args.clusters * args.members_per_cluster) % args.set_size:
        parser.error("--clusters x --members-per-cluster must be a multiple of --set-size")
    return args


# ---- plan -----------------------------------------------------------------------------------
@dataclass
class Member:
    set_name: str
    ordinal: int
    cluster: str
    node_port: int = 0
    vip: str = ""

    @property
    def name(self) -> str:
        return f"{self.set_name}-m{self.ordinal}"

    @property
    def address(self) -> str:
        return f"{self.vip}:{self.node_port}"


def plan(clusters: int, per_cluster: int, set_size: int) -> list[list[Member]]:
    """Member j of set i is global member g = i*set_size + j, in cluster g mod clusters: every cluster
    gets exactly ``per_cluster`` members and the members of a set are in ``set_size`` different clusters."""
    sets = []
    for index in range((clusters * per_cluster) // set_size):
        members = []
        for ordinal in range(set_size):
            cluster = (index * set_size + ordinal) % clusters
            members.append(Member(f"rs{index}", ordinal, f"member-{cluster + 1}"))
        sets.append(members)
    return sets


def sim_config(args: argparse.Namespace) -> dict[str, Any]:
    node_group = {
        "count": args.nodes,
        "cpu": args.node_cpu,
        "memory": args.node_memory,
        "pods": 110,
        "labels": {"deploy": "mongo"},
    }
    settings: dict[str, Any] = {}
    if args.election_timeout_millis:
        settings["electionTimeoutMillis"] = args.election_timeout_millis
    return {
        "settings": settings,
        "clusters": [
            {"name": f"member-{k}", "region": f"region-{1 + (k - 1) % 5}", "zone": f"zone-{k}", "nodes": [node_group]}
            for k in range(1, args.clusters + 1)
        ],
    }


def labels(member: Member) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "mongodb",
        INSTANCE_LABEL: member.set_name,
        MEMBER_LABEL: f"m{member.ordinal}",
        BENCH_LABEL[0]: BENCH_LABEL[1],
    }


def service(member: Member) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": member.name, "namespace": NAMESPACE, "labels": labels(member)},
        "spec": {
            "type": "NodePort",
            "selector": {INSTANCE_LABEL: member.set_name, MEMBER_LABEL: f"m{member.ordinal}"},
            "ports": [{"name": "mongodb", "port": MONGO_PORT, "targetPort": MONGO_PORT, "protocol": "TCP"}],
            "publishNotReadyAddresses": True,
        },
    }


def statefulset(member: Member, image: str) -> dict[str, Any]:
    container = {
        "name": "mongod",
        "image": image,
        "command": ["mongod"],
        "args": ["--replSet", member.set_name, "--bind_ip_all", "--port", str(MONGO_PORT)],
        "ports": [{"name": "mongodb", "containerPort": MONGO_PORT, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "2Gi"}},
        "volumeMounts": [{"name": "data", "mountPath": "/data/db"}],
        "readinessProbe": {"tcpSocket": {"port": MONGO_PORT}, "periodSeconds": 5},
    }
    selector = {INSTANCE_LABEL: member.set_name, MEMBER_LABEL: f"m{member.ordinal}"}
    claim = {
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": "standard",
        "resources": {"requests": {"storage": "1Gi"}},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": member.name, "namespace": NAMESPACE, "labels": labels(member)},
        "spec": {
            "replicas": 1,
            "serviceName": member.name,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": labels(member)},
                "spec": {"containers": [container], "nodeSelector": {"deploy": "mongo"}},
            },
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": claim}],
        },
    }


# ---- the simulator process ----------------------------------------------------------------
def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a process (fields 14 and 15 of /proc/<pid>/stat, after the comm field)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def proc_memory_mb(pid: int) -> dict[str, float]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return {"rss_mb": round(values.get("VmRSS", 0.0), 1), "peak_rss_mb": round(values.get("VmHWM", 0.0), 1)}


class Simulator:
    """``python -m fedstate_sim`` in its own process group; SIGTERM on stop, SIGKILL if it hangs."""

    def __init__(self, workdir: Path, args: argparse.Namespace) -> None:
        self.workdir = workdir
        self.config = workdir / "sim.yaml"
        self.ready_file = workdir / "ready.json"
        self.log_path = workdir / "simulator.log"
        self.config.write_text(yaml.safe_dump(sim_config(args), sort_keys=False))
        self.log_level = args.sim_log_level
        self.profile: Path | None = args.profile_simulator
        self.proc: subprocess.Popen[bytes] | None = None
        self.ready: dict[str, Any] = {}

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        profiler = ["-m", "cProfile", "-o", str(self.profile.resolve())] if self.profile else []
        command = [
            sys.executable,
            *profiler,
            "-m",
            "fedstate_sim",
            "--config",
            str(self.config),
            "--ready-file",
            str(self.ready_file),
            "--log-level",
            self.log_level,
        ]
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    async def wait_ready(self, timeout: float) -> dict[str, Any]:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while not self.ready_file.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"the simulator exited with {self.proc.returncode}; log: {self.tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the simulator was not ready after {timeout:.0f} s; log: {self.tail()}")
            await asyncio.sleep(0.05)
        self.ready = json.loads(self.ready_file.read_text())
        return self.ready

    def alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"the simulator exited with {self.proc.returncode}; log: {self.tail()}")

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, grace: float = 20.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)


# ---- helpers ------------------------------------------------------------------------------
async def bounded(limit: int, jobs: Iterator[Awaitable[T]]) -> list[T]:
    """Await every job with at most ``limit`` in flight; the first failure propagates."""
    semaphore = asyncio.Semaphore(limit)

    async def one(job: Awaitable[T]) -> T:
        async with semaphore:
            return await job

    return await asyncio.gather(*(one(job) for job in jobs))


async def retrying(action: Callable[[], Awaitable[T]], deadline: float, what: str, pause: float = 0.2) -> T:
    """Call ``action`` until it succeeds or the deadline passes (then the last error is raised)."""
    while True:
        try:
            return await action()
        except (PyMongoError, aiohttp.ClientError, OSError, RetryableError) as exc:
            if time.monotonic() + pause > deadline:
                raise TimeoutError(f"{what}: still failing at the deadline: {exc!r}") from exc
        await asyncio.sleep(pause)


class RetryableError(Exception):
    pass


# ---- Kubernetes side ------------------------------------------------------------------------
class Kube:
    def __init__(self, session: aiohttp.ClientSession, urls: dict[str, str], deadline: float) -> None:
        self.session = session
        self.urls = urls
        self.deadline = deadline
        self.requests = 0

    async def create(self, cluster: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST; an AlreadyExists (a retried request that had succeeded) reads the object instead."""

        async def attempt() -> dict[str, Any]:
            self.requests += 1
            url = f"{self.urls[cluster]}{path}"
            async with self.session.post(url, json=body) as response:
                document: dict[str, Any] = await response.json(content_type=None)
                if response.status == 409:
                    async with self.session.get(f"{url}/{body['metadata']['name']}") as existing:
                        existing.raise_for_status()
                        return dict(await existing.json(content_type=None))
                if response.status >= 500:
                    raise RetryableError(f"{response.status} from {url}: {document}")
                if response.status >= 400:
                    raise RuntimeError(f"{response.status} from {url}: {document}")
                return document

        return await retrying(attempt, self.deadline, f"create {body['kind']} {body['metadata']['name']}")

    async def create_member(self, member: Member, image: str) -> None:
        created = await self.create(member.cluster, f"/api/v1/namespaces/{NAMESPACE}/services", service(member))
        member.node_port = int(created["spec"]["ports"][0]["nodePort"])
        member.vip = urlsplit(self.urls[member.cluster]).hostname or ""
        await self.create(
            member.cluster, f"/apis/apps/v1/namespaces/{NAMESPACE}/statefulsets", statefulset(member, image)
        )


class ReadyPods:
    """One pod watch per cluster (label-selected); ``done`` is set once ``expected`` pods are Ready."""

    def __init__(self, session: aiohttp.ClientSession, urls: dict[str, str], expected: int) -> None:
        self.session = session
        self.urls = urls
        self.expected = expected
        self.ready: dict[str, set[str]] = {name: set() for name in urls}
        self.done = asyncio.Event()
        self.events = 0
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._watch(name)) for name in self.urls]

    @property
    def count(self) -> int:
        return sum(len(pods) for pods in self.ready.values())

    async def _watch(self, cluster: str) -> None:
        url = f"{self.urls[cluster]}/api/v1/namespaces/{NAMESPACE}/pods"
        params = {"watch": "1", "labelSelector": "=".join(BENCH_LABEL), "timeoutSeconds": "3600"}
        while True:
            try:
                async with self.session.get(url, params=params, timeout=aiohttp.ClientTimeout(total=None)) as stream:
                    self.ready[cluster] = set()  # a new watch starts with synthetic ADDED events
                    async for line in stream.content:
                        self._on_event(cluster, json.loads(line))
            except (aiohttp.ClientError, OSError, ValueError):
                pass
            await asyncio.sleep(0.5)  # the stream ended or failed: watch again

    def _on_event(self, cluster: str, event: dict[str, Any]) -> None:
        self.events += 1
        pod = event.get("object") or {}
        name = (pod.get("metadata") or {}).get("name", "")
        conditions = (pod.get("status") or {}).get("conditions") or []
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
        if event.get("type") != "DELETED" and ready:
            self.ready[cluster].add(name)
        else:
            self.ready[cluster].discard(name)
        if self.count >= self.expected:
            self.done.set()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


# ---- MongoDB side ---------------------------------------------------------------------------
def mongo_client(address: str) -> AsyncMongoClient[dict[str, Any]]:
    """A direct connection that does not monitor in the background (one hello at connect, then
    none for a minute), so the bench's clients add little load to the simulator."""
    return AsyncMongoClient(
        f"mongodb://{address}/",
        directConnection=True,
        serverSelectionTimeoutMS=3000,
        connectTimeoutMS=3000,
        socketTimeoutMS=10_000,
        serverMonitoringMode="poll",
        heartbeatFrequencyMS=60_000,
        appname="fedstate-bench",
    )


async def answers_hello(member: Member, deadline: float) -> None:
    """pymongo connects and its monitor sends ``hello``; the member must describe itself as a replica-set
    member (``RSGhost`` before ``replSetInitiate``). Reading the monitor's answer instead of running one
    more ``hello`` on a pooled connection halves the bench's own CPU per member."""

    async def attempt() -> None:
        client = mongo_client(member.address)
        try:
            await client.address  # waits for the monitor's hello (server selection)
            host, port = member.address.rsplit(":", 1)
            description = client.topology_description.server_descriptions()[(host, int(port))]
        finally:
            await client.close()
        if description.error is not None or description.server_type_name not in REPLICA_SET_MEMBER_TYPES:
            raise RetryableError(f"{member.address} is a {description.server_type_name}: {description.error}")

    await retrying(attempt, deadline, f"hello on {member.name} ({member.address})")


def rs_config(members: list[Member]) -> dict[str, Any]:
    return {
        "_id": members[0].set_name,
        "version": 1,
        "members": [
            {"_id": m.ordinal, "host": m.address, **({} if m.ordinal < MAX_VOTERS else {"votes": 0, "priority": 0})}
            for m in members
        ],
    }


async def initiate(client: AsyncMongoClient[dict[str, Any]], members: list[Member], deadline: float) -> None:
    async def attempt() -> None:
        try:
            await client.admin.command({"replSetInitiate": rs_config(members)})
        except OperationFailure as exc:
            if exc.code != ALREADY_INITIALIZED:
                raise

    await retrying(attempt, deadline, f"replSetInitiate {members[0].set_name}", pause=0.5)


async def has_primary(client: AsyncMongoClient[dict[str, Any]], size: int) -> bool:
    """One PRIMARY, every other member SECONDARY, as the seed member sees the set."""
    try:
        status = await client.admin.command("replSetGetStatus")
    except PyMongoError:
        return False
    states = [m.get("stateStr") for m in status.get("members", [])]
    return len(states) == size and states.count("PRIMARY") == 1 and states.count("SECONDARY") == size - 1


async def wait_primaries(
    clients: list[AsyncMongoClient[dict[str, Any]]], sets: list[list[Member]], limit: int, deadline: float
) -> None:
    """Poll the sets still without a primary, all at once each round, until none is left."""
    pending = list(range(len(sets)))
    while pending:
        results = await bounded(limit, (has_primary(clients[i], len(sets[i])) for i in pending))
        pending = [i for i, ok in zip(pending, results, strict=True) if not ok]
        if pending and time.monotonic() > deadline:
            raise TimeoutError(f"{len(pending)} sets without a primary, e.g. {sets[pending[0]][0].set_name}")
        if pending:
            await asyncio.sleep(0.5)


# ---- the run --------------------------------------------------------------------------------
class Clock:
    """Seconds since the simulator was launched, and its CPU seconds, at each milestone."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.t0 = time.monotonic()
        self.marks: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.bench_cpu: dict[str, float] = {}

    def mark(self, name: str) -> float:
        self.sim.alive()
        self.marks[name] = round(time.monotonic() - self.t0, 2)
        self.cpu[name] = round(proc_cpu_seconds(self.sim.pid), 2)
        self.bench_cpu[name] = round(time.process_time(), 2)
        print(
            f"[sim_world] {name}: {self.marks[name]} s (CPU: simulator {self.cpu[name]} s, bench {self.bench_cpu[name]} s)",
            file=sys.stderr,
        )
        return self.marks[name]


async def measure_idle(pid: int, seconds: float) -> dict[str, float]:
    cpu, wall = proc_cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    cpu, wall = proc_cpu_seconds(pid) - cpu, time.monotonic() - wall
    return {
        "idle_seconds": round(wall, 2),
        "idle_cpu_seconds": round(cpu, 3),
        "idle_cpu_percent_of_one_core": round(100 * cpu / wall, 2),
    }


async def drive(sim: Simulator, args: argparse.Namespace, result: dict[str, Any]) -> None:
    sets = plan(args.clusters, args.members_per_cluster, args.set_size)
    members = [m for s in sets for m in s]
    clock = Clock(sim)
    # filled in as the run goes, so a failure still reports how far it got
    result["seconds_since_launch"] = clock.marks
    result["simulator_cpu_seconds"] = clock.cpu
    result["bench_cpu_seconds"] = clock.bench_cpu
    sim.start()
    ready = await sim.wait_ready(args.timeout)
    clock.mark("simulator_ready")
    urls: dict[str, str] = ready["clusters"]
    result["simulator_pid"] = sim.pid

    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}  # the simulator's cluster-admin, as its kubeconfig
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=admin) as session:
        watches = ReadyPods(session, urls, len(members))
        watches.start()
        try:
            kube = Kube(session, urls, time.monotonic() + args.timeout)
            await bounded(args.api_concurrency, (kube.create_member(m, args.image) for m in members))
            clock.mark("objects_created")
            result["api_requests"] = kube.requests
            try:
                await asyncio.wait_for(watches.done.wait(), args.timeout)
            except TimeoutError:
                raise TimeoutError(
                    f"only {watches.count}/{len(members)} pods Ready after {args.timeout:.0f} s"
                ) from None
            clock.mark("pods_ready")
            result["pod_watch_events"] = watches.events
        finally:
            await watches.stop()

    checked = (
        members if not args.hello_sample else random.Random(1).sample(members, min(args.hello_sample, len(members)))
    )
    deadline = time.monotonic() + args.timeout
    await bounded(args.mongo_concurrency, (answers_hello(m, deadline) for m in checked))
    clock.mark("members_answering")
    result["members_checked_with_hello"] = len(checked)

    clients = [mongo_client(s[0].address) for s in sets]
    try:
        deadline = time.monotonic() + args.timeout
        await bounded(args.mongo_concurrency, (initiate(c, s, deadline) for c, s in zip(clients, sets, strict=True)))
        clock.mark("sets_initiated")
        await wait_primaries(clients, sets, args.mongo_concurrency, deadline)
        clock.mark("sets_with_primary")
    finally:
        await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)

    await asyncio.sleep(args.settle_seconds)
    result["load_average_before_idle"] = [round(x, 2) for x in os.getloadavg()]
    result.update(await measure_idle(sim.pid, args.idle_seconds))
    result.update(proc_memory_mb(sim.pid))
    result["goal_start_under_60s"] = clock.marks["sets_with_primary"] < 60
    result["goal_idle_under_10_percent"] = result["idle_cpu_percent_of_one_core"] < 10


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(args: argparse.Namespace) -> int:
    result: dict[str, Any] = {
        "clusters": args.clusters,
        "members": args.clusters * args.members_per_cluster,
        "members_per_cluster": args.members_per_cluster,
        "sets": args.clusters * args.members_per_cluster // args.set_size,
        "set_size": args.set_size,
        "nodes_per_cluster": f"{args.nodes} x {args.node_cpu} CPU / {args.node_memory}",
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    workdir = Path(tempfile.mkdtemp(prefix="fedstate-sim-world-"))
    sim = Simulator(workdir, args)
    status = 0
    signal.signal(signal.SIGTERM, _exit_on_sigterm)  # so the simulator is stopped below
    try:
        asyncio.run(asyncio.wait_for(drive(sim, args, result), 6 * args.timeout))
    except (Exception, KeyboardInterrupt, SystemExit) as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
        result["simulator_log_tail"] = sim.tail()
        status = 1
    finally:
        result["simulator_exit_code"] = sim.stop()
        if args.keep_workdir or status:
            result["workdir"] = str(workdir)
        else:
            for path in (sim.config, sim.ready_file, sim.log_path):
                with contextlib.suppress(OSError):
                    path.unlink()
            with contextlib.suppress(OSError):
                workdir.rmdir()
    print(json.dumps(result, indent=2))
    return status


if __name__ == "__main__":
    sys.exit(main(parse_args(sys.argv[1:])))
