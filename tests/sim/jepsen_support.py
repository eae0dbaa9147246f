"""A Jepsen-style durability run against simulated members: concurrent writers, a seeded nemesis, a checker.

Writers insert unique documents through replica-set pymongo clients (retryWrites, as an application
would) with a given write concern and record each outcome. The nemesis, driven by ``random.Random(seed)``,
injects faults through the fabric's fault API: one cluster cut from the others, a non-transitive cut
(two clusters apart, the third reaching both), a bridge (the primary's cluster cut off, then reaching one
other cluster again), member kills and restarts (the primary's too), a cluster
down, the whole set down; with ``membership``, also safe reconfigs on the primary that remove a member and add
it back (one voter at a time, as a scale-down and a scale-up do). At the end everything heals and every member is
back in the config; the checker reads with readConcern "majority" on the final primary and lists every
acknowledged write it does not find, and the primaries it sees.

The seed fixes the fault schedule and the simulator's election jitter; threads still interleave as the
machine runs them, so a seed reproduces the same faults, not the same instants.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pymongo import WriteConcern
from pymongo.errors import PyMongoError
from pymongo.read_concern import ReadConcern

from fedstate_sim.mongo import FabricThread
from fedstate_sim.mongo.api import MemberLaunch
from fedstate_sim.mongo.services import FabricTuning
from fedstate_sim.mongo.testing import SetHarness, address, error_code, fast_settings, member_states

LAYOUT = {"c1": 2, "c2": 2, "c3": 1}  # the seed sample's 2+2+1 over three clusters
WRITERS = 3
HEAL_TIMEOUT_S = 60.0
MIN_MEMBERS = 3  # a membership change never shrinks the set below three
RECONFIG_MAX_TIME_MS = 1500


@dataclass
class Op:
    """One line of the operation log: a writer's insert and its outcome, or a nemesis action."""

    at: float
    actor: str
    what: str
    outcome: str = ""

    def line(self) -> str:
        return f"{self.at:8.3f}  {self.actor:<8} {self.what:<40} {self.outcome}"


@dataclass
class Verdict:
    """What the checker found after the run."""

    seed: int
    w: int | str
    acknowledged: list[str]
    found: set[str]
    primaries: list[str]
    log: list[Op] = field(default_factory=list)
    rollbacks: int = 0  # rollback records the fabric kept (writes discarded by members rejoining)

    @property
    def lost(self) -> list[str]:
        """Acknowledged writes the final primary does not have."""
        return [doc_id for doc_id in self.acknowledged if doc_id not in self.found]

    def report(self) -> str:
        lines = [
            f"jepsen seed={self.seed} w={self.w!r}: {len(self.acknowledged)} acknowledged, {len(self.lost)} lost "
            f"{self.lost[:20]}, final primaries {self.primaries}, {self.rollbacks} rollback records",
            f"reproduce the fault schedule: FEDSTATE_JEPSEN_SEED={self.seed}",
            "operation log (seconds since start, actor, operation, outcome):",
        ]
        return "\n".join(lines + [op.line() for op in self.log])


class Log:
    """The shared operation log (writers and nemesis append from their threads)."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.ops: list[Op] = []
        self._lock = threading.Lock()

    def add(self, actor: str, what: str, outcome: str = "") -> Op:
        op = Op(time.monotonic() - self.started, actor, what, outcome)
        with self._lock:
            self.ops.append(op)
        return op


class Writer(threading.Thread):
    """Inserts ``w<k>-<n>`` documents one after another until stopped; records every outcome."""

    def __init__(self, k: int, harness: SetHarness, w: int | str, log: Log, stop: threading.Event) -> None:
        super().__init__(name=f"jepsen-writer-{k}", daemon=True)
        self.k, self.log, self.stop = k, log, stop
        client = harness.client(retryWrites=True, serverSelectionTimeoutMS=3000, connectTimeoutMS=1000)
        self.items = client.jepsen.get_collection("items", write_concern=WriteConcern(w=w, wtimeout=3000))
        self.acknowledged: list[str] = []

    def run(self) -> None:
        for n in itertools.count():
            if self.stop.is_set():
                return
            doc_id = f"w{self.k}-{n}"
            try:
                self.items.insert_one({"_id": doc_id, "writer": self.k})
            except PyMongoError as error:
                self.log.add(f"writer{self.k}", f"insert {doc_id}", f"{type(error).__name__} {error_code(error)}")
                time.sleep(0.05)
            else:
                self.acknowledged.append(doc_id)
                self.log.add(f"writer{self.k}", f"insert {doc_id}", "ok")
            time.sleep(0.01)


class Nemesis:
    """Seeded faults through the fabric's fault API; ``heal_all`` undoes every one of them."""

    def __init__(self, harness: SetHarness, rng: random.Random, log: Log, membership: bool = False) -> None:
        self.harness, self.sim, self.rng, self.log = harness, harness.sim, rng, log
        self.clusters = sorted(LAYOUT)
        self.killed: dict[str, MemberLaunch] = {}
        self.down: set[str] = set()
        self.faults: list[Callable[[], str]] = [
            self.cut_one_cluster,
            self.cut_non_transitively,
            self.bridge_the_primary,
            self.kill_primary,
            self.kill_member,
            self.cluster_down,
            self.everything_down,
        ]
        if membership:
            self.faults += [self.change_membership, self.change_membership]

    def step(self) -> None:
        """One fault, held for a while; then, more often than not, everything heals."""
        what = self.rng.choice(self.faults)()
        self.log.add("nemesis", what)
        time.sleep(self.rng.uniform(0.4, 2.0))
        if self.rng.random() < 0.6:
            self.heal_all()
            time.sleep(self.rng.uniform(0.2, 1.5))

    def cut_one_cluster(self) -> str:
        alone = self.rng.choice(self.clusters)
        rest = set(self.clusters) - {alone}
        self.sim.partition({alone}, rest)
        return f"partition {alone} | {sorted(rest)}"

    def cut_non_transitively(self) -> str:
        a, b = self.rng.sample(self.clusters, 2)
        self.sim.partition({a}, {b})
        return f"partition {a} | {b} (the third reaches both)"

    def bridge_the_primary(self) -> str:
        """The primary's cluster cut off until about an election, then reaching one other cluster again
        (Jepsen's bridge): the old primary meets members that hold a newer term's entries."""
        primaries = self.harness.running_primaries()
        alone = self.harness.by_address(primaries[0]).cluster if primaries else self.rng.choice(self.clusters)
        rest = sorted(set(self.clusters) - {alone})
        self.sim.partition({alone}, set(rest))
        time.sleep(self.rng.uniform(0.2, 0.8))
        self.sim.heal()
        far = self.rng.choice(rest)
        self.sim.partition({alone}, {far})
        return f"bridge: {alone} cut off, then reaching {sorted(set(rest) - {far})} but not {far}"

    def kill_primary(self) -> str:
        primaries = self.harness.running_primaries()
        if not primaries:
            return "kill primary: none running"
        return self._kill(self.harness.by_address(primaries[0]), "primary")

    def kill_member(self) -> str:
        alive = [launch for launch in self.harness.launches if address(launch) not in self.killed]
        return self._kill(self.rng.choice(alive), "member")

    def _kill(self, launch: MemberLaunch, role: str) -> str:
        self.sim.stop_member(launch.host, launch.port)
        self.killed[address(launch)] = launch
        return f"kill {role} {address(launch)} ({launch.cluster})"

    def cluster_down(self) -> str:
        cluster = self.rng.choice(self.clusters)
        self.sim.set_cluster_down(cluster, True)
        self.down.add(cluster)
        return f"cluster {cluster} down"

    def everything_down(self) -> str:
        for cluster in self.clusters:
            self.sim.set_cluster_down(cluster, True)
        self.down.update(self.clusters)
        return "every cluster down"

    def change_membership(self) -> str:
        """A safe reconfig on the primary: remove a secondary while the set has more than three members,
        otherwise add back one that was removed. Refusals and timeouts are part of the run."""
        primaries = self.harness.running_primaries()
        if len(primaries) != 1:
            return "reconfig: no single primary"
        admin = self.harness.direct(self.harness.by_address(primaries[0])).admin
        try:
            config = admin.command("replSetGetConfig")["config"]
            hosts = [member["host"] for member in config["members"]]
            missing = [launch for launch in self.harness.launches if address(launch) not in hosts]
            if len(hosts) > MIN_MEMBERS and (not missing or self.rng.random() < 0.5):
                gone = self.rng.choice([host for host in hosts if host != primaries[0]])
                members = [member for member in config["members"] if member["host"] != gone]
                what = f"reconfig: remove {gone}"
            else:
                back = self.rng.choice(missing)
                members = [*config["members"], _config_member(self.harness, back)]
                what = f"reconfig: add back {address(back)}"
            admin.command(
                "replSetReconfig",
                {**config, "version": config["version"] + 1, "members": members},
                maxTimeMS=RECONFIG_MAX_TIME_MS,
            )
        except PyMongoError as error:
            return f"reconfig on {primaries[0]} failed: {type(error).__name__} {error_code(error)}"
        return what

    def restore_membership(self, timeout: float) -> None:
        """Add back, one at a time, every member a reconfig removed (after everything healed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            primary = self.harness.wait_for_primary(timeout=HEAL_TIMEOUT_S)
            admin = self.harness.direct(primary).admin
            try:
                config = admin.command("replSetGetConfig")["config"]
                hosts = {member["host"] for member in config["members"]}
                missing = [launch for launch in self.harness.launches if address(launch) not in hosts]
                if not missing:
                    return
                members = [*config["members"], _config_member(self.harness, missing[0])]
                admin.command("replSetReconfig", {**config, "version": config["version"] + 1, "members": members})
                self.log.add("nemesis", f"restore: add back {address(missing[0])}")
            except PyMongoError as error:
                self.log.add("nemesis", "restore: reconfig failed", f"{type(error).__name__} {error_code(error)}")
                time.sleep(0.2)
        raise AssertionError("the members a reconfig removed could not all be added back")

    def heal_all(self) -> None:
        self.sim.heal()
        for cluster in sorted(self.down):
            self.sim.set_cluster_down(cluster, False)
        for launch in self.killed.values():
            self.sim.start_member(launch)
        self.log.add("nemesis", "heal: partitions, clusters up, killed members restarted")
        self.down.clear()
        self.killed.clear()


def _config_member(harness: SetHarness, launch: MemberLaunch) -> dict[str, Any]:
    """The config entry of ``launch``: the ``_id`` it had at initiation (a host keeps its ``_id``)."""
    return {"_id": harness.launches.index(launch), "host": address(launch)}


def run(seed: int, w: int | str, seconds: float, octet: int, membership: bool = False) -> Verdict:
    """Writers and nemesis for ``seconds``, heal, then check on the final primary."""
    rng = random.Random(seed)
    with FabricThread(fast_settings(election_timeout_millis=400), FabricTuning(seed=seed)) as sim:
        harness = SetHarness(sim, "jepsen", LAYOUT, octet).start()
        try:
            harness.initiate()
            harness.wait_until_healthy()
            return _run_on(harness, rng, seed, w, seconds, membership)
        finally:
            harness.close()


def _run_on(
    harness: SetHarness, rng: random.Random, seed: int, w: int | str, seconds: float, membership: bool
) -> Verdict:
    log, stop = Log(), threading.Event()
    writers = [Writer(k, harness, w, log, stop) for k in range(WRITERS)]
    nemesis = Nemesis(harness, rng, log, membership)
    for writer in writers:
        writer.start()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        nemesis.step()
    nemesis.heal_all()
    nemesis.restore_membership(HEAL_TIMEOUT_S)
    stop.set()
    for writer in writers:
        writer.join(timeout=30)
    primary = harness.wait_until_healthy(timeout=HEAL_TIMEOUT_S)
    log.add("checker", f"healed; primary {address(primary)}")
    return Verdict(
        seed=seed,
        w=w,
        acknowledged=[doc_id for writer in writers for doc_id in writer.acknowledged],
        found=_majority_committed_ids(harness),
        primaries=_primaries(harness),
        log=log.ops,
        rollbacks=len(harness.sim.inspect(lambda fabric: list(fabric.rollbacks))),
    )


def _majority_committed_ids(harness: SetHarness) -> set[str]:
    """Every _id on the final primary, read with readConcern "majority" after a w:"majority" fence write
    (so the new primary's commit point covers everything it holds from earlier terms)."""
    client = harness.client(retryWrites=True)
    database = client.jepsen
    database.get_collection("fence", write_concern=WriteConcern("majority", wtimeout=10_000)).insert_one({})
    items = database.get_collection("items", read_concern=ReadConcern("majority"))
    return {str(doc["_id"]) for doc in items.find({}, {"_id": 1})}


def _primaries(harness: SetHarness) -> list[str]:
    """Members reporting PRIMARY in any member's replSetGetStatus, plus what the fabric says (deduplicated)."""
    seen: set[str] = set(harness.running_primaries())
    for launch in harness.launches:
        states: dict[str, Any] = member_states(harness.direct(launch))
        seen.update(host for host, state in states.items() if state == "PRIMARY")
    return sorted(seen)
