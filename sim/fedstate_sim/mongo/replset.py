"""A replica-set group: the running members sharing one replicaSetId, ticking together.

Instead of one timer per member, a group runs one heartbeat round per heartbeat
interval for all its members (heartbeats, then elections, then replication),
and one replication tick when a write is waiting to be copied. Both are entries
in the fabric's single scheduler heap. An uninitiated member belongs to no
group and costs nothing while idle.

A healthy idle set is cheap too: after a *calm* full round (every peer answered,
nothing changed, one primary, nothing pending) the group remembers a fingerprint
(fault epoch plus each member's heartbeat snapshot). While the fingerprint stays
the same, a round is *quiet*: O(members) liveness refresh instead of
O(members²) heartbeats. Any change (a write, a state change, a fault, a member
joining or leaving) breaks the fingerprint and the next round is a full one. A primary
that wrote nothing for 10 s writes a no-op, as mongod's periodic no-op writer does, so
an idle set has one full round (and one replication tick) every 10 s.
"""

from __future__ import annotations

import asyncio
import math
from typing import TYPE_CHECKING, Any

from fedstate_sim.mongo.election import election_round
from fedstate_sim.mongo.heartbeat import heartbeat_round
from fedstate_sim.mongo.peers import State
from fedstate_sim.mongo.replication import replication_round

if TYPE_CHECKING:
    from bson import ObjectId

    from fedstate_sim.mongo.member import Member
    from fedstate_sim.mongo.scheduler import Scheduled
    from fedstate_sim.mongo.services import FabricServices


_SETTLED_STATES = (State.PRIMARY, State.SECONDARY, State.ARBITER)


class ReplicaSetGroup:
    """Members of one replica set (by replicaSetId) and their shared timers."""

    def __init__(self, replica_set_id: ObjectId, services: FabricServices) -> None:
        self.replica_set_id = replica_set_id
        self.services = services
        self.members: dict[str, Member] = {}
        self._round: Scheduled | None = None
        self._tick: Scheduled | None = None
        self._round_waiters: list[asyncio.Future[None]] = []
        self._quiet: tuple[Any, ...] | None = None  # fingerprint after a calm full round, while nothing changes

    @property
    def interval(self) -> float:
        """Heartbeat interval in seconds, from (any) member's config."""
        for member in self.members.values():
            if member.data.config is not None:
                return member.data.config.heartbeat_interval_millis / 1000
        return self.services.settings.heartbeat_interval_millis / 1000

    def add(self, member: Member) -> None:
        if member.group is not None and member.group is not self:
            member.group.remove(member)
        member.group = self
        self.members[member.host] = member
        self._quiet = None
        if self._round is None:
            self._schedule_round(self._on_grid(self.services.scheduler.now()))

    def remove(self, member: Member) -> None:
        if self.members.get(member.host) is member:
            del self.members[member.host]
        member.group = None
        self._quiet = None
        if not self.members:
            self.stop()

    def stop(self) -> None:
        for entry in (self._round, self._tick):
            if entry is not None:
                entry.cancel()
        self._round = self._tick = None
        self.services.groups.pop(self.replica_set_id, None)
        self._release_round_waiters()

    def poke(self) -> None:
        """Run a round right away (after an election, initiate or reconfig) so peers learn fast."""
        self._schedule_round(self.services.scheduler.now())

    def request_replication(self) -> None:
        """A write happened: copy it to the secondaries once the replication lag has passed."""
        self._schedule_tick(self.services.scheduler.now() + self.services.replication_lag_seconds)

    async def next_round(self) -> None:
        """Wait for the end of the next heartbeat round."""
        future = asyncio.get_running_loop().create_future()
        self._round_waiters.append(future)
        await future

    def _on_grid(self, now: float) -> float:
        grid = min(self.services.tuning.heartbeat_phase_millis / 1000, self.interval / 4)
        return math.ceil(now / grid) * grid if grid > 0 else now

    def _schedule_round(self, due: float) -> None:
        """(Re)schedule the group's single pending round."""
        if self._round is not None:
            self._round.cancel()
        self._round = self.services.scheduler.call_at(due, self._run_round)

    def _schedule_tick(self, due: float) -> None:
        if self._tick is not None and self._tick.due <= due:
            return
        if self._tick is not None:
            self._tick.cancel()
        self._tick = self.services.scheduler.call_at(due, self._run_tick)

    def _run_round(self, now: float) -> None:
        self._round = None
        self._write_periodic_noop(now)
        if self._quiet is not None and self._quiet == self._fingerprint():
            self._quiet_round(now)
        else:
            self._full_round(now)
        self._release_round_waiters()
        if self.members and self._round is None:  # a poke during the round already scheduled the next
            self._schedule_round(self._on_grid(now + self.interval))

    def _write_periodic_noop(self, now: float) -> None:
        """A primary that wrote nothing for ``periodicNoopIntervalSecs`` (10 s) writes a no-op, as mongod does:
        secondaries' optimes then keep moving on an idle set, and a lag measured from them stays true."""
        interval = self.services.tuning.periodic_noop_millis / 1000
        for member in self.members.values():
            if member.state is not State.PRIMARY or not member.running or not member.data.oplog:
                continue
            if now - member.data.oplog[-1].created >= interval:
                member.write_noop("periodic noop", now)
                self.request_replication()

    def _full_round(self, now: float) -> None:
        self.services.stats["full_rounds"] += 1
        calm = heartbeat_round(self, now)
        observed = self._fingerprint()  # what the members' views now hold, if the round was calm
        election_round(self, now)
        self._replicate(now)
        for member in list(self.members.values()):
            member.refresh_topology()
        unchanged = calm and self._settled() and self._fingerprint() == observed
        self._quiet = observed if unchanged else None

    def _quiet_round(self, now: float) -> None:
        """Nothing changed since a calm full round: every peer still answers, so only liveness moves on."""
        self.services.stats["quiet_rounds"] += 1
        for member in self.members.values():
            member.freshness.at = now
            if member.state is State.PRIMARY:
                member.last_majority_seen = now
            elif member.state is State.SECONDARY:
                member.reset_election_timer(now)

    def _settled(self) -> bool:
        """One primary, everyone serving, nothing pending: the next rounds can be quiet."""
        members = self.members.values()
        if self._tick is not None or sum(m.state is State.PRIMARY for m in members) != 1:
            return False
        return all(
            m.state in _SETTLED_STATES and m.takeover_since is None and not m.waiters and not m.reconfiguring
            for m in members
        )

    def _fingerprint(self) -> tuple[Any, ...]:
        """Fault state plus every member's heartbeat snapshot (snapshots are reused while unchanged)."""
        services = self.services
        services.heartbeat_serial += 1
        serial = services.heartbeat_serial
        return (services.network.epoch, *(member.snapshot(serial) for member in self.members.values()))

    def _run_tick(self, now: float) -> None:
        self._tick = None
        self._replicate(now)

    def _replicate(self, now: float) -> None:
        next_due = replication_round(self, now)
        if next_due is not None:
            self._schedule_tick(next_due)

    def _release_round_waiters(self) -> None:
        waiters, self._round_waiters = self._round_waiters, []
        for future in waiters:
            if not future.done():
                future.set_result(None)


def attach(member: Member) -> ReplicaSetGroup | None:
    """Put a member with a config into its set's group (creating the group on first use)."""
    config = member.data.config
    if config is None:
        return None
    groups = member.services.groups
    group = groups.get(config.replica_set_id)
    if group is None:
        group = groups[config.replica_set_id] = ReplicaSetGroup(config.replica_set_id, member.services)
    group.add(member)
    return group
