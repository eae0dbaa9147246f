"""MongoFabric: every simulated mongod of the simulator, in one process and one event loop.

It implements ``MemberHost`` (api.py) for the simulated Kubernetes side: a
member starts when its pod is Ready and exposed by a NodePort Service, stops
when the pod goes (cleanly when the pod is deleted: a primary first hands over, as mongod does on SIGTERM), and resumes its data volume (``data_key``) when a pod mounts
it again. Faults are cluster-level: a down cluster's members are powered off
(listeners and connections closed, no heartbeats) and boot again on recovery; a
partition cuts heartbeats between two groups of clusters. Rollbacks and forced
reconfigs are recorded in ``rollbacks`` and ``forced_reconfigs``.
"""

from __future__ import annotations

import logging
from typing import Any

from fedstate_sim.config import SIMULATOR_BANNER, SimSettings
from fedstate_sim.mongo.api import MemberLaunch, ShellRequest, ShellRun
from fedstate_sim.mongo.commands import dispatch
from fedstate_sim.mongo.commands.replset_admin import step_down_for_shutdown
from fedstate_sim.mongo.member import Member
from fedstate_sim.mongo.replset import attach
from fedstate_sim.mongo.server import MemberServer
from fedstate_sim.mongo.services import FabricServices, FabricTuning, ForcedReconfigRecord, RollbackRecord
from fedstate_sim.mongo.shell import local_command, run_shell
from fedstate_sim.mongo.versions import fcv_start_error

log = logging.getLogger("fedstate_sim.mongo")


class MemberStartRefused(OSError):
    """mongod exits at start (an OSError without errno, so it crosses the simulator's process channel as one)."""


class MongoFabric:
    """The simulated MongoDB members of every simulated cluster (implements ``MemberHost``)."""

    def __init__(self, settings: SimSettings, tuning: FabricTuning | None = None) -> None:
        self.settings = settings
        self.services = FabricServices(settings, tuning or FabricTuning())
        self._servers: dict[str, MemberServer] = {}
        self._mounts: dict[str, str] = {}  # data_key → address of the member holding the volume
        log.info("MongoDB member fabric created: %s", SIMULATOR_BANNER)

    # ---- MemberHost --------------------------------------------------------------------------
    async def start(self) -> None:
        """Members start one by one, as their pods become Ready."""

    async def start_member(self, launch: MemberLaunch) -> None:
        address = f"{launch.host}:{launch.port}"
        existing = self.services.members.get(address)
        if existing is not None and existing.launch == launch:
            return
        if existing is not None:
            await self.stop_member(launch.host, launch.port)
        await self.release_volume(launch.data_key)
        data = self.services.store.open(launch.data_key)
        fcv = data.feature_compatibility_version()
        if fcv is not None and (refused := fcv_start_error(launch.image, fcv)) is not None:
            log.warning("fedstate simulator mongod %s (%s) exits: %s", address, launch.pod, refused)
            raise MemberStartRefused(refused)
        member = Member(launch, data, self.services)
        server = MemberServer(member, dispatch)
        if not self.services.network.is_down(launch.cluster):
            await server.start()  # raises OSError if the address is taken; nothing is registered then
            self._boot(member)
        self.services.members[address] = member
        self._servers[address] = server
        self._mounts[launch.data_key] = address
        member.log("started (data %s, image %s) — %s", launch.data_key, launch.image, SIMULATOR_BANNER)

    async def stop_member(self, host: str, port: int, clean: bool = False) -> None:
        address = f"{host}:{port}"
        if clean and (running := self.services.members.get(address)) is not None:
            await step_down_for_shutdown(running, self.settings.shutdown_timeout_seconds)
            running.data.flush_journal()  # a clean shutdown ends with a checkpoint: nothing is lost
        member = self.services.members.pop(address, None)
        server = self._servers.pop(address, None)
        if member is None or server is None:
            return
        if self._mounts.get(member.launch.data_key) == address:
            del self._mounts[member.launch.data_key]
        server.close()
        self._halt(member)
        member.log("stopped; data %s kept", member.launch.data_key)

    def forget_data(self, data_key: str) -> None:
        self.services.store.forget(data_key)
        log.info("fedstate simulator: data volume %s deleted", data_key)

    def set_cluster_down(self, cluster: str, down: bool) -> None:
        network = self.services.network
        if network.is_down(cluster) == down:
            return
        network.set_down(cluster, down)
        log.warning("fedstate simulator: cluster %s is %s", cluster, "DOWN" if down else "back up")
        for member in self.members_in(cluster):
            if down:
                self._servers[member.host].close()
                self._halt(member)
            else:
                self._resume(member)

    def partition(self, side_a: set[str], side_b: set[str]) -> None:
        self.services.network.partition(side_a, side_b)
        log.warning("fedstate simulator: partition between clusters %s and %s", sorted(side_a), sorted(side_b))

    def heal(self) -> None:
        self.services.network.heal()
        log.warning("fedstate simulator: all partitions healed")

    async def run_shell(self, request: ShellRequest) -> ShellRun:
        return await run_shell(request, self.member)

    async def close(self) -> None:
        for member in list(self.services.members.values()):
            await self.stop_member(member.launch.host, member.launch.port)
        self.services.scheduler.close()

    # ---- inspection helpers ------------------------------------------------------------------
    @property
    def rollbacks(self) -> list[RollbackRecord]:
        """Writes discarded by members that rolled back (after a failover or a forced reconfig)."""
        return self.services.rollbacks

    async def access_refusals(self) -> list[dict[str, Any]]:
        return self.recorded_refusals()

    def recorded_refusals(self) -> list[dict[str, Any]]:
        """``access_refusals`` for code already on the fabric's loop (``FabricThread.inspect``)."""
        return [refusal.to_json() for refusal in self.services.refusals]

    @property
    def forced_reconfigs(self) -> list[ForcedReconfigRecord]:
        return self.services.forced_reconfigs

    def member(self, host: str, port: int) -> Member | None:
        return self.services.members.get(f"{host}:{port}")

    async def local_command(self, host: str, port: int, command: dict[str, Any]) -> dict[str, Any]:
        """Run ``command`` as a shell inside the member's pod would (over loopback): the localhost exception."""
        member = self.member(host, port)
        if member is None or not member.running:
            raise ConnectionRefusedError(f"no simulated mongod runs at {host}:{port}")
        return await local_command(member, command)

    def members_in(self, cluster: str) -> list[Member]:
        return [m for m in self.services.members.values() if m.cluster == cluster]

    def summary(self) -> dict[str, Any]:
        """Member states by replica-set name and host, as each member sees itself."""
        sets: dict[str, dict[str, str]] = {}
        for member in self.services.members.values():
            config = member.data.config
            name = config.name if config else f"{member.launch.repl_set} (uninitiated)"
            sets.setdefault(name, {})[member.host] = member.state.label if member.running else "DOWN"
        return sets

    async def release_volume(self, data_key: str) -> str | None:
        """A volume is mounted by one mongod at a time: stop whoever still holds it; its address, if one did."""
        holder = self.services.members.get(self._mounts.get(data_key, ""))
        if holder is None:
            return None
        holder.log("volume %s is now mounted elsewhere; stopping", data_key, level=logging.WARNING)
        await self.stop_member(holder.launch.host, holder.launch.port)
        return holder.host

    # ---- internals ---------------------------------------------------------------------------
    def _boot(self, member: Member) -> None:
        member.boot(self.services.scheduler.now())
        attach(member)

    def _halt(self, member: Member) -> None:
        """The process stops; unless it flushed as it shut down cleanly, what its journal lacks is lost."""
        member.journaled(self.services.scheduler.now())  # the periodic flusher's last run before the stop counts
        lost = member.data.lose_unjournaled()
        if lost:
            writes = sum(1 for entry in lost if entry.op != "n")
            member.log(
                "unclean stop: lost %d oplog entries (%d writes) not yet journaled; now at %s",
                len(lost),
                writes,
                member.last_optime,
                level=logging.WARNING,
            )
        member.halt()
        if member.group is not None:
            member.group.remove(member)
        member.wake_hello_waiters()

    def _resume(self, member: Member) -> None:
        try:
            self._servers[member.host].listen()
        except OSError as error:
            member.log("cannot listen again after recovery: %s", error, level=logging.ERROR)
            return
        self._boot(member)
