"""One simulated mongod's replica-set state: member state, term, views of its peers, topology version.

A ``Member`` holds what a mongod process keeps in memory; its durable part is
``MemberData`` (storage.py). The heartbeat, election and replication modules
drive the transitions; commands read the state and call the transitions
(step down, install a config). Nothing here does I/O except log lines.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bson import ObjectId

from fedstate_sim.mongo.api import MemberLaunch
from fedstate_sim.mongo.errors import Code, CommandError
from fedstate_sim.mongo.peers import Freshness, PeerView, Snapshot, State, WriteWaiter
from fedstate_sim.mongo.rsconfig import MemberConfig, RsConfig
from fedstate_sim.mongo.storage import NULL_OPTIME, MemberData, OplogEntry, OpTime, next_optime

if TYPE_CHECKING:
    from fedstate_sim.mongo.replset import ReplicaSetGroup
    from fedstate_sim.mongo.services import FabricServices

log = logging.getLogger("fedstate_sim.mongo")
UNREACHABLE = "Couldn't get a connection within the time limit: host unreachable"
AUTH_FAILED = "Authentication failed."  # internal (keyFile) authentication between members failed
_SYNCING = (State.STARTUP2, State.ROLLBACK, State.RECOVERING)  # a config change does not end these states


class Member:
    """The in-memory state of one simulated mongod."""

    def __init__(self, launch: MemberLaunch, data: MemberData, services: FabricServices) -> None:
        self.launch = launch
        self.host = f"{launch.host}:{launch.port}"
        self.cluster = launch.cluster
        self.data = data
        self.services = services
        self.group: ReplicaSetGroup | None = None
        self.state = State.STARTUP
        self.running = False
        self.process_id = ObjectId()
        self.tv_counter = 0
        self.started = 0.0
        self.started_wall = datetime.now(UTC)
        self.views: dict[str, PeerView] = {}
        self.freshness = Freshness()
        self.seen_primary: str | None = None  # from the last heartbeat round
        self.visible_voters = 0  # voters (itself included) heard from within the election timeout
        self.election_deadline = float("inf")
        self.last_majority_seen = 0.0
        self.majority_heard_at = 0.0  # the last moment a majority of voters had been heard from
        self.takeover_since: float | None = None
        self.frozen_until = 0.0
        self.commit_point = NULL_OPTIME
        # A safe reconfig's oplog commitment (mongod's getConfigOplogCommitmentOpTime): the commit point when the
        # current config was installed, and this primary's first entry of its term; in memory only, as in mongod.
        self.committed_in_prev_config = NULL_OPTIME
        self.first_optime_of_term = NULL_OPTIME
        self.sync_source: str | None = None
        self.startup2_until = 0.0
        self.rollback_until = 0.0  # ROLLBACK ends (then RECOVERING) at this instant
        self.election_time: datetime | None = None
        self.waiters: list[WriteWaiter] = []
        self.reconfiguring = False
        self.params: dict[str, Any] = {}
        self.connection_ids = 0  # connections ever accepted; the last one's id
        self.open_connections = 0
        self._signature: tuple[Any, ...] | None = None
        self._links: list[tuple[str, int, PeerView]] = []
        self._snapshot: Snapshot = (State.STARTUP, NULL_OPTIME, 0, -2, None, 0.0)
        self._snapshot_serial = -1
        self._links_config: RsConfig | None = None
        self._me: MemberConfig | None = None
        self._me_config: RsConfig | None = None
        self._tv_future: asyncio.Future[None] | None = None
        # The highest cluster time told by a client's $clusterTime (mongod's logical clock, in memory only)
        self.told_cluster_time = (0, 0)  # (seconds, increment)
        self._progress: asyncio.Future[None] | None = None  # resolved after each replication round

    # ---- read-only helpers -------------------------------------------------------------------
    @property
    def config(self) -> RsConfig | None:
        return self.data.config

    @property
    def me(self) -> MemberConfig | None:
        """This member's entry in its config (cached per config object)."""
        config = self.data.config
        if self._me_config is not config:
            self._me = config.member(self.host) if config is not None else None
            self._me_config = config
        return self._me

    @property
    def timeout(self) -> float:
        """Election timeout in seconds: the config's, else the simulator default."""
        config = self.data.config
        millis = config.election_timeout_millis if config else self.services.settings.election_timeout_millis
        return millis / 1000

    @property
    def last_optime(self) -> OpTime:
        return self.data.last_optime

    def journaled(self, now: float) -> OpTime:
        """The newest durable entry at ``now``: the periodic journal flusher runs every commit interval from the
        process's start (as each flush is quick), so what was written before its last run is durable."""
        interval = self.services.journal_commit_interval_seconds
        return self.data.journaled_by(self.started + (now - self.started) // interval * interval)

    def next_journal_flush(self, now: float) -> float:
        interval = self.services.journal_commit_interval_seconds
        return self.started + ((now - self.started) // interval + 1) * interval

    def electable(self) -> bool:
        me = self.me
        return me is not None and me.electable

    def snapshot(self, serial: int) -> Snapshot:
        """This member as heartbeats see it, computed once per heartbeat round (same object while unchanged)."""
        if self._snapshot_serial != serial:
            config = self.data.config
            data = self.data
            version = config.version if config else -2
            current = (self.state, data.last_optime, data.term, version, self.sync_source, self.started)
            if current != self._snapshot:
                self._snapshot = current
            self._snapshot_serial = serial
        return self._snapshot

    def invalidate_snapshot(self) -> None:
        self._snapshot_serial = -1

    def links(self) -> list[tuple[str, int, PeerView]]:
        """(host, votes, view) for every peer in the config; rebuilt when the config changes."""
        config = self.data.config
        if self._links_config is not config:
            now = self.services.scheduler.now()
            self._links = [
                (
                    m.host,
                    m.votes,
                    self.views.get(m.host) or self.views.setdefault(m.host, PeerView(now, self.freshness)),
                )
                for m in (config.members if config else ())
                if m.host != self.host
            ]
            self._links_config = config
        return self._links

    def primary_host(self) -> str | None:
        """The member this one believes is primary: itself, or what the last heartbeat round found."""
        return self.host if self.state is State.PRIMARY else self.seen_primary

    def link_error(self, peer: Member) -> str | None:
        """Why replica-set traffic (heartbeats, votes, replication, the initiate quorum check) cannot flow
        to ``peer``: down or cut off by the fault network, or keyFiles that differ (internal
        authentication fails); None when it can."""
        if not peer.running or not self.services.network.reachable(self.cluster, peer.cluster):
            return UNREACHABLE
        if peer.launch.key_file != self.launch.key_file:
            return AUTH_FAILED
        return None

    def describe(self) -> str:
        return f"fedstate simulator mongod {self.host} ({self.launch.pod}, cluster {self.cluster})"

    def log(self, message: str, *args: Any, level: int = logging.INFO) -> None:
        log.log(level, "%s: " + message, self.describe(), *args)

    # ---- lifecycle ---------------------------------------------------------------------------
    def boot(self, now: float) -> None:
        """Process start (pod start or cluster recovery): state from the data volume, peers unknown."""
        self.running = True
        self.process_id = ObjectId()
        self.started, self.started_wall = now, datetime.now(UTC)
        self.views.clear()
        self.freshness = Freshness()
        self._links_config = None
        self.seen_primary = None
        self.state = self._resting_state()
        if self.state is State.SECONDARY and self.data.last_optime < self.data.min_valid:
            self.state = State.RECOVERING  # stopped before it caught up after a rollback: not consistent yet
            self.log("started RECOVERING: holds %s of the %s it needs", self.data.last_optime, self.data.min_valid)
        self.reset_election_timer(now)
        self.refresh_topology()

    def halt(self) -> None:
        """Process stop: in-memory state is lost; waiting clients get an error."""
        self.running = False
        self.fail_waiters(Code.InterruptedDueToReplStateChange, "mongod is shutting down")
        if self.state is State.PRIMARY:
            self.state = State.SECONDARY

    def _resting_state(self) -> State:
        me = self.me
        if self.data.config is None:
            return State.STARTUP
        if me is None:
            return State.REMOVED
        return State.ARBITER if me.arbiter_only else State.SECONDARY

    # ---- transitions -------------------------------------------------------------------------
    def install_config(self, config: RsConfig, now: float, reason: str) -> None:
        first = self.data.config is None
        self.data.config = config
        me = config.member(self.host)
        if self.state is State.PRIMARY and (me is None or not me.electable):
            self.step_down(now, "no longer electable in the new config")
        if first and me is not None and me.data_bearing and not self.data.oplog:
            self.state = State.STARTUP2
            self.startup2_until = now + self.services.initial_sync_seconds
        elif self.state is not State.PRIMARY and not (self.state in _SYNCING and me is not None):
            self.state = self._resting_state()
        self.log("installed config version %d (%s); state %s", config.version, reason, self.state.label)
        self.refresh_topology()

    def adopt_term(self, term: int, now: float) -> None:
        if term > self.data.term:
            self.data.term = term
            if self.state is State.PRIMARY:
                self.step_down(now, f"saw a newer term {term}")

    def step_down(self, now: float, reason: str, freeze_secs: float = 0.0) -> None:
        self.state = State.SECONDARY
        self.election_time = None
        self.frozen_until = max(self.frozen_until, now + freeze_secs)
        self.fail_waiters(Code.PrimarySteppedDown, "Primary stepped down while waiting for replication")
        self.reset_election_timer(now)
        self.log("stepped down: %s (term %d)", reason, self.data.term, level=logging.WARNING)
        self.refresh_topology()

    def become_primary(self, now: float) -> None:
        self.state = State.PRIMARY
        self.election_time = datetime.now(UTC)
        self.last_majority_seen = now
        self.majority_heard_at = now
        self.takeover_since = None
        self.write_noop("new primary", now)
        self.first_optime_of_term = self.last_optime
        self.log("won the election for term %d; now PRIMARY", self.data.term)
        self.refresh_topology()

    def write_noop(self, message: str, now: float) -> None:
        """A no-op oplog entry in this member's term, as mongod writes on election, when idle, to confirm a
        linearizable read and to bring its oplog up to a read's afterClusterTime."""
        self.data.append(OplogEntry(self.next_write_optime(), "n", "", {"msg": message}, now))

    def progressed(self) -> asyncio.Future[None]:
        """Done after the next replication round, when this member's oplog and commit point may have moved."""
        if self._progress is None or self._progress.done():
            self._progress = asyncio.get_running_loop().create_future()
        return self._progress

    def note_progress(self) -> None:
        if self._progress is not None and not self._progress.done():
            self._progress.set_result(None)

    # ---- cluster time ----------------------------------------------------------------------
    def cluster_time(self) -> tuple[int, int]:
        """mongod's logical clock as (seconds, increment): never behind this member's newest entry, and moved on
        by the ``$clusterTime`` clients send."""
        return max(self.told_cluster_time, self.last_optime.stamp)

    def hear_cluster_time(self, seconds: int, increment: int) -> None:
        self.told_cluster_time = max(self.told_cluster_time, (seconds, increment))

    def next_write_optime(self) -> OpTime:
        """The optime of the next entry this member writes: after its last one and after the cluster time, so a
        client that has seen a cluster time sees every later write as later."""
        secs, inc = self.cluster_time()
        return next_optime(self.data.term, OpTime(self.data.term, secs, inc))

    def reset_election_timer(self, now: float) -> None:
        jitter = self.services.rng.uniform(0, self.services.tuning.election_jitter)
        self.election_deadline = now + self.timeout * (1 + jitter)

    def fail_waiters(self, code: int, message: str) -> None:
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            if not waiter.future.done():
                waiter.future.set_exception(CommandError(code, message))

    # ---- topology version (awaitable hello) --------------------------------------------------
    def refresh_topology(self) -> None:
        """Bump topologyVersion when anything a hello reply shows has changed."""
        config = self.data.config
        signature = (
            self.state,
            self.primary_host(),
            config.version if config else None,
            self.data.term,
        )
        if signature != self._signature:
            self._signature = signature
            self.tv_counter += 1
            self.wake_hello_waiters()

    def wake_hello_waiters(self) -> None:
        future, self._tv_future = self._tv_future, None
        if future is not None and not future.done():
            future.set_result(None)

    async def topology_changed(self, timeout: float) -> None:
        """Return when the topology version changes or after ``timeout`` seconds."""
        if self._tv_future is None:
            self._tv_future = asyncio.get_running_loop().create_future()
        await asyncio.wait([self._tv_future], timeout=timeout)
