"""What every simulated member shares: settings, the fault network, the scheduler, the registries.

``FabricServices`` is the fabric's inside, handed to members and replica-set
groups so they can find peers (``members`` by ``host:port``) without holding a
reference to the whole fabric. ``FabricTuning`` holds knobs beyond
``SimSettings`` that only the MongoDB side needs.
"""

from __future__ import annotations

import random
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fedstate_sim.config import SimSettings
from fedstate_sim.mongo.network import Network
from fedstate_sim.mongo.rsconfig import ConfigDefaults
from fedstate_sim.mongo.scheduler import Scheduler
from fedstate_sim.mongo.storage import DataStore

if TYPE_CHECKING:
    from bson import ObjectId

    from fedstate_sim.mongo.member import Member
    from fedstate_sim.mongo.replset import ReplicaSetGroup


MAX_REFUSALS = 1000  # Unauthorized answers remembered for inspection


@dataclass(frozen=True)
class FabricTuning:
    """MongoDB-side timing knobs that ``SimSettings`` does not carry."""

    initial_sync_millis: int | None = None  # STARTUP2 duration; default twice the heartbeat interval
    rollback_millis: int | None = None  # how long a member shows ROLLBACK; default twice the heartbeat interval
    election_jitter: float = 0.15  # mongod's electionTimeoutOffsetLimitFraction
    scheduler_granularity_millis: float = 5.0  # timers this close together fire in one wake-up
    heartbeat_phase_millis: int = 50  # heartbeat rounds start on this grid, so idle sets batch up
    seed: int | None = None  # random seed for election jitter and forced-reconfig versions
    periodic_noop_millis: int = 10_000  # mongod's periodicNoopIntervalSecs: an idle primary's no-op writes


@dataclass
class RollbackRecord:
    """Writes a member discarded: rolled back on rejoining, or lost to a forced reconfig."""

    set_name: str
    member: str
    reason: str
    documents: list[dict[str, Any]]
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class AccessRefusal:
    """A command refused as Unauthorized (13) to an unauthenticated client."""

    member: str
    command: str
    remote: str
    app: str  # the client's handshake appname, e.g. fedstate-agent
    local: bool  # over the pod's loopback (the shell in the pod) rather than the network
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_json(self) -> dict[str, Any]:
        return {
            "member": self.member,
            "command": self.command,
            "remote": self.remote,
            "app": self.app,
            "local": self.local,
            "at": self.at.isoformat(),
        }


@dataclass
class ForcedReconfigRecord:
    set_name: str
    member: str
    version: int
    members: list[str]
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


class FabricServices:
    """Shared state of one MongoFabric."""

    def __init__(self, settings: SimSettings, tuning: FabricTuning) -> None:
        self.settings = settings
        self.tuning = tuning
        self.network = Network()
        self.scheduler = Scheduler(tuning.scheduler_granularity_millis / 1000)
        self.store = DataStore()
        self.members: dict[str, Member] = {}  # "host:port" -> running member
        self.groups: dict[ObjectId, ReplicaSetGroup] = {}  # replicaSetId -> group
        self.rollbacks: list[RollbackRecord] = []
        self.forced_reconfigs: list[ForcedReconfigRecord] = []
        self.refusals: deque[AccessRefusal] = deque(maxlen=MAX_REFUSALS)
        self.heartbeat_serial = 0  # one per heartbeat round; members cache their heartbeat snapshot by it
        self.stats = {"full_rounds": 0, "quiet_rounds": 0}
        self.rng = random.Random(tuning.seed)
        self.config_defaults = ConfigDefaults(settings.heartbeat_interval_millis, settings.election_timeout_millis)

    @property
    def initial_sync_seconds(self) -> float:
        millis = self.tuning.initial_sync_millis
        if millis is None:
            millis = 2 * self.settings.heartbeat_interval_millis
        return millis / 1000

    @property
    def rollback_seconds(self) -> float:
        millis = self.tuning.rollback_millis
        if millis is None:
            millis = 2 * self.settings.heartbeat_interval_millis
        return millis / 1000

    @property
    def replication_lag_seconds(self) -> float:
        return self.settings.replication_lag_millis / 1000

    @property
    def journal_commit_interval_seconds(self) -> float:
        return self.settings.journal_commit_interval_millis / 1000

    def wall_at(self, mono: float) -> datetime:
        """The wall-clock time of a loop-clock instant."""
        return datetime.fromtimestamp(time.time() - (self.scheduler.now() - mono), UTC)
