"""The orchestrator's reconcile loop for MultiCloudMongoDB objects.

Reads spec, placement and every cluster's data-plane spec and report; decides with the
pure functions of ``domain``; writes DataPlaneSpecs and status with compare-and-set.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from fedstate.bus.connection import Bus
from fedstate.bus.events import emit
from fedstate.bus.names import (
    InstanceKey,
    Kind,
    instance_dataplane_filter,
    parse_dataplane_key,
    parse_placement_key,
    parse_spec_key,
)
from fedstate.bus.objects import StatusRecord, StoredObject
from fedstate.bus.store import KeyChange, Outcome
from fedstate.models.base import utcnow
from fedstate.models.dataplane import DataPlaneSpec, DataPlaneStatus
from fedstate.models.multicloud import InstanceState, MultiCloudMongoDB
from fedstate.models.placement import Placement
from fedstate.reconcile import DONE, Controller, Result
from fedstate.service import pump

from .domain.dataplane import ClusterPlan, credentials_for, render
from .domain.members import Assignment, assign_members
from .domain.rsconfig import choose_initiator, initial_config
from .domain.status import Observation, aggregate
from .settings import FederationSettings

log = logging.getLogger(__name__)
COMPONENT = "federation-orchestrator"
RESYNC_SECONDS = 30.0
DELETE_POLL_SECONDS = 1.0


@dataclass
class World:
    """Everything one reconcile pass reads, for one instance."""

    key: InstanceKey
    obj: StoredObject
    mcm: MultiCloudMongoDB
    placement: Placement | None
    dataplane: dict[str, DataPlaneSpec]
    observed: dict[str, DataPlaneStatus]
    config_content: dict[str, str] | None


def _spec_key_of(instance: InstanceKey) -> str:
    return InstanceKey(instance.tenant, instance.namespace, Kind.MULTICLOUD_MONGODB, instance.name).spec_key


class Orchestrator:
    def __init__(self, bus: Bus, settings: FederationSettings) -> None:
        self.bus = bus
        self.settings = settings
        self.controller = Controller("orchestrator", self.reconcile)
        self._background: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        def from_spec(change: KeyChange) -> str | None:
            instance = parse_spec_key(change.key)
            if instance.kind == Kind.CONFIGMAP:
                task = asyncio.create_task(self._enqueue_namespace(instance))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
                return None
            return change.key if instance.kind == Kind.MULTICLOUD_MONGODB else None

        await asyncio.gather(
            pump(self.bus.spec.watch(), self.controller, from_spec),
            pump(self.bus.placements.watch(), self.controller, lambda c: _spec_key_of(parse_placement_key(c.key))),
            pump(self.bus.dataplane.watch(), self.controller, lambda c: _spec_key_of(parse_dataplane_key(c.key)[1])),
            pump(self.bus.observed.watch(), self.controller, lambda c: _spec_key_of(parse_dataplane_key(c.key)[1])),
        )

    async def _enqueue_namespace(self, changed: InstanceKey) -> None:
        """A federated ConfigMap changed: look again at every instance of its namespace."""
        pattern = f"{changed.tenant}.{changed.namespace}.{Kind.MULTICLOUD_MONGODB}.*"
        async for change in self.bus.spec.watch(pattern, follow=False):
            self.controller.enqueue(change.key)

    async def reconcile(self, key: str) -> Result:
        world = await self._load(parse_spec_key(key))
        if world is None:
            return DONE
        if world.obj.deleting:
            return await self._delete(world)
        assignment = self._assignment(world)
        await self._apply_dataplane(world, assignment)
        await self._write_status(world, assignment)
        return Result(requeue_after=RESYNC_SECONDS)

    # 1. load
    async def _load(self, key: InstanceKey) -> World | None:
        entry = await self.bus.spec.get(key.spec_key)
        if entry is None:
            await self.bus.status.delete(key.status_key)
            return None
        placement = await self.bus.placements.get(key.placement_key)
        pattern = instance_dataplane_filter(key)
        dataplane = {parse_dataplane_key(e.key)[0]: e.value for e in await self.bus.dataplane.entries(pattern)}
        observed = {parse_dataplane_key(e.key)[0]: e.value for e in await self.bus.observed.entries(pattern)}
        mcm = entry.value.as_multicloud()
        return World(
            key,
            entry.value,
            mcm,
            placement.value if placement else None,
            dataplane,
            observed,
            await self._config_content(key, mcm),
        )

    async def _config_content(self, key: InstanceKey, mcm: MultiCloudMongoDB) -> dict[str, str] | None:
        ref = mcm.spec.config.config_ref
        if not ref:
            return None
        entry = await self.bus.spec.get(InstanceKey(key.tenant, key.namespace, Kind.CONFIGMAP, ref).spec_key)
        return entry.value.data if entry else None

    # 2. decide
    def _assignment(self, world: World) -> Assignment:
        current = {cluster: [m.ordinal for m in dp.members] for cluster, dp in world.dataplane.items()}
        placement = world.placement
        usable = (
            placement is not None
            and placement.schedulable
            and placement.spec_generation == world.obj.metadata.generation
        )
        if not usable or placement is None:
            return current
        return assign_members(current, placement.replicas_by_cluster())

    def _plans(self, world: World, assignment: Assignment) -> list[ClusterPlan]:
        previous = next((c for c, dp in world.dataplane.items() if dp.initiator), None)
        initiator = choose_initiator(assignment, world.placement, previous) if world.placement else previous
        rs_config = next((dp.replica_set_config for dp in world.dataplane.values() if dp.replica_set_config), None)
        if rs_config is None and world.placement is not None and self._all_ready(world, assignment):
            addresses = {o: a for report in world.observed.values() for o, a in report.addresses().items()}
            rs_config = initial_config(world.key.name, assignment, world.placement, addresses)
        return [ClusterPlan(c, ordinals, c == initiator, rs_config) for c, ordinals in sorted(assignment.items())]

    @staticmethod
    def _all_ready(world: World, assignment: Assignment) -> bool:
        for cluster, ordinals in assignment.items():
            report = world.observed.get(cluster)
            ready = {m.ordinal for m in report.members if m.ready and m.address} if report else set()
            if not set(ordinals) <= ready:
                return False
        return True

    # 3. apply the difference
    async def _apply_dataplane(self, world: World, assignment: Assignment) -> None:
        credentials = credentials_for(world.mcm, self.settings.secret)
        for plan in self._plans(world, assignment):
            desired = render(world.key, world.mcm, plan, credentials, world.config_content)
            outcome = await self.bus.dataplane.put_if_changed(world.key.dataplane_key(plan.cluster), desired)
            await self._report(world.key, plan.cluster, outcome)
        for cluster in set(world.dataplane) - set(assignment):
            outcome = await self.bus.dataplane.delete(world.key.dataplane_key(cluster))
            await self._report(world.key, cluster, outcome)

    async def _report(self, key: InstanceKey, cluster: str, outcome: Outcome) -> None:
        if outcome == Outcome.UNCHANGED:
            return
        log.info("dataplane spec written", extra={"instance": str(key), "cluster": cluster, "outcome": str(outcome)})
        await emit(
            self.bus.js,
            key,
            reason=f"DataPlane{outcome.value.title()}",
            component=COMPONENT,
            message=f"data-plane spec for cluster {cluster} has been {outcome}",
        )

    # 4. status, rebuilt from what was observed on every pass
    async def _write_status(self, world: World, assignment: Assignment) -> None:
        previous_entry = await self.bus.status.get(world.key.status_key)
        previous = previous_entry.value.multicloud if previous_entry else None
        observation = Observation(
            generation=world.obj.metadata.generation,
            replicaset=world.mcm.spec.replicaset,
            deleting=world.obj.deleting,
            config_ref=world.mcm.spec.config.config_ref,
            config_ref_found=world.config_content is not None,
            placement=world.placement,
            assignment=assignment,
            dataplane=world.dataplane,
            observed=world.observed,
        )
        status = aggregate(observation, previous, utcnow())
        record = StatusRecord(kind="MultiCloudMongoDB", multicloud=status)
        if await self.bus.status.put_if_changed(world.key.status_key, record) == Outcome.UNCHANGED:
            return
        if previous is None or previous.state != status.state:
            await emit(
                self.bus.js,
                world.key,
                reason=f"State{status.state}",
                component=COMPONENT,
                message=f"replica set {world.key.name} is {status.state}",
                warning=status.state in (InstanceState.UN_HEALTH, InstanceState.SUB_HEALTH),
            )

    # Delete: tombstone every data-plane spec, wait until every agent reports its objects gone.
    async def _delete(self, world: World) -> Result:
        for cluster in world.dataplane:
            await self.bus.dataplane.delete(world.key.dataplane_key(cluster))
        await self._write_status(world, {})
        if world.observed:
            return Result(requeue_after=DELETE_POLL_SECONDS)
        await self.bus.status.delete(world.key.status_key)
        entry = await self.bus.spec.get(world.key.spec_key)
        if entry is not None:
            await self.bus.spec.delete(world.key.spec_key, entry.revision)
        await emit(
            self.bus.js,
            world.key,
            reason="Deleted",
            component=COMPONENT,
            message=f"{world.key.name} and its members in every cluster are gone",
        )
        return DONE
