"""The agent's reconcile loop: one DataPlaneSpec of this cluster → Kubernetes objects, replica-set
admin, and a DataPlaneStatus report.

Steps: load (missing → tear down) · apply objects · prune removed members · observe pods and
Services · replica-set admin (initiator only) · observe members · report.
"""

from __future__ import annotations

import logging
from typing import Any

from fedstate.bus.connection import Bus
from fedstate.bus.events import emit
from fedstate.bus.names import InstanceKey, Kind, parse_dataplane_key
from fedstate.bus.store import Outcome
from fedstate.models.base import Condition, utcnow
from fedstate.models.dataplane import DataPlaneSpec, DataPlaneStatus, MemberObservation
from fedstate.reconcile import DONE, Result
from fedstate.settings import MemberClusterSettings

from .kubeobjects import KubeObjects
from .manifests import MEMBER_LABEL, render_all
from .mongo import MemberState, MongoAdmin, PyMongoError

log = logging.getLogger(__name__)
COMPONENT = "dataplane-agent"
BUSY_REQUEUE_SECONDS = 0.5
STEADY_REQUEUE_SECONDS = 3.0


def _pod_observation(pod: dict[str, Any] | None) -> tuple[str, bool, str | None, str]:
    if pod is None:
        return "Absent", False, None, ""
    status = pod.get("status", {})
    conditions = {c["type"]: c for c in status.get("conditions", [])}
    ready = conditions.get("Ready", {}).get("status") == "True"
    message = conditions.get("PodScheduled", {}).get("message", "") if not ready else ""
    return status.get("phase", "Pending"), ready, pod.get("spec", {}).get("nodeName"), message


class AgentReconciler:
    def __init__(self, bus: Bus, kube: KubeObjects, settings: MemberClusterSettings, vip: str) -> None:
        self.bus = bus
        self.kube = kube
        self.settings = settings
        self.vip = vip
        self.mongo = MongoAdmin()

    async def reconcile(self, key: str) -> Result:
        cluster, instance = parse_dataplane_key(key)
        if cluster != self.settings.cluster:
            return DONE
        entry = await self.bus.dataplane.get(key)
        if entry is None:
            return await self._tear_down(key, instance.namespace, instance.name)
        spec = entry.value
        await self.kube.ensure_namespace(spec.instance.namespace)
        for obj in render_all(spec):
            await self.kube.apply(obj)
        await self._prune(spec)
        members = await self._observe_members(spec)
        conditions: list[Condition] = []
        states = await self._replica_set(spec, members, conditions)
        report = self._report(spec, members, states, conditions)
        await self._publish(key, report)
        steady = report.initiated and all(m.role in ("PRIMARY", "SECONDARY", "ARBITER") for m in report.members)
        return Result(requeue_after=STEADY_REQUEUE_SECONDS if steady else BUSY_REQUEUE_SECONDS)

    async def _prune(self, spec: DataPlaneSpec) -> None:
        wanted = {m.name for m in spec.members}
        for sts in await self.kube.statefulsets(spec.instance.namespace, spec.instance.name):
            name = sts["metadata"]["name"]
            if name not in wanted:
                await self.kube.delete_member(spec.instance.namespace, name)

    async def _observe_members(self, spec: DataPlaneSpec) -> list[MemberObservation]:
        namespace, name = spec.instance.namespace, spec.instance.name
        services = {s["metadata"]["name"]: s for s in await self.kube.services(namespace, name)}
        pods = {p["metadata"]["labels"].get(MEMBER_LABEL): p for p in await self.kube.pods(namespace, name)}
        observed = []
        for member in spec.members:
            ports = services.get(member.name, {}).get("spec", {}).get("ports", [])
            node_port = next((p.get("nodePort") for p in ports if p.get("name") == "mongodb"), None)
            phase, ready, node, message = _pod_observation(pods.get(f"m{member.ordinal}"))
            observed.append(
                MemberObservation(
                    ordinal=member.ordinal,
                    name=member.name,
                    address=f"{self.vip}:{node_port}" if node_port else None,
                    pod_phase=phase,
                    ready=ready,
                    node=node,
                    message=message,
                )
            )
        return observed

    async def _replica_set(
        self, spec: DataPlaneSpec, members: list[MemberObservation], conditions: list[Condition]
    ) -> dict[int, MemberState]:
        """Initiate (initiator cluster only), observe every member here, then create users on the primary."""
        reachable = [m for m in members if m.ready and m.address]
        admin = spec.initiator and spec.replica_set_config is not None and bool(reachable)
        if admin:
            await self._initiate(spec, reachable[0].address or "", conditions)
        states: dict[int, MemberState] = {}
        for member in reachable:
            try:
                states[member.ordinal] = await self.mongo.observe(member.address or "", spec.credentials)
            except PyMongoError as exc:
                log.info("member not answering", extra={"member": member.name, "error": str(exc)})
        primary = next((v.host for s in states.values() for v in s.view if v.state_str == "PRIMARY"), None)
        if admin and primary is not None:
            await self._ensure_users(spec, primary, conditions)
        return states

    async def _initiate(self, spec: DataPlaneSpec, address: str, conditions: list[Condition]) -> None:
        config = spec.replica_set_config
        assert config is not None
        try:
            if await self.mongo.initiate(address, config):
                await self._event(spec, "ReplicaSetInitiated", f"replSetInitiate with {len(config.members)} members")
            conditions.append(Condition(type="rsInit", status="True", reason="Initiated", message=address))
        except PyMongoError as exc:
            conditions.append(Condition(type="rsInit", status="False", reason="InitiateFailed", message=str(exc)))

    async def _ensure_users(self, spec: DataPlaneSpec, primary: str, conditions: list[Condition]) -> None:
        try:
            created = await self.mongo.ensure_users(primary, spec.credentials, spec.export.enable)
        except PyMongoError as exc:
            conditions.append(Condition(type="userRoot", status="False", reason="CreateFailed", message=str(exc)))
            return
        if created:
            await self._event(spec, "UsersCreated", f"created users: {', '.join(created)}")
        conditions.append(Condition(type="userRoot", status="True", reason="Created", message="root"))

    def _report(
        self,
        spec: DataPlaneSpec,
        members: list[MemberObservation],
        states: dict[int, MemberState],
        conditions: list[Condition],
    ) -> DataPlaneStatus:
        with_roles = [
            m.model_copy(update={"role": states[m.ordinal].role}) if m.ordinal in states else m for m in members
        ]
        known = [s for s in states.values() if s.initiated]
        freshest = known[0] if known else None
        return DataPlaneStatus(
            cluster=self.settings.cluster,
            generation=spec.generation,
            revision=spec.revision,
            members=with_roles,
            initiated=bool(known),
            users_ready=any(s.users_ready for s in known),
            rs_config=freshest.config if freshest else None,
            replset=freshest.view if freshest else [],
            conditions=conditions,
            observed_at=utcnow(),
        )

    async def _publish(self, key: str, report: DataPlaneStatus) -> Outcome:
        """Write the report unless only its timestamp would change."""
        current = await self.bus.observed.get(key)
        if current is not None and current.value.model_copy(update={"observed_at": report.observed_at}) == report:
            return Outcome.UNCHANGED
        return await self.bus.observed.put_if_changed(key, report)

    async def _tear_down(self, key: str, namespace: str, name: str) -> Result:
        remaining = await self.kube.delete_instance(namespace, name)
        if remaining:
            return Result(requeue_after=BUSY_REQUEUE_SECONDS)
        await self.bus.observed.delete(key)
        return DONE

    async def _event(self, spec: DataPlaneSpec, reason: str, message: str) -> None:
        instance = InstanceKey(
            spec.instance.tenant, spec.instance.namespace, Kind.MULTICLOUD_MONGODB, spec.instance.name
        )
        await emit(
            self.bus.js, instance, reason=reason, message=f"[{self.settings.cluster}] {message}", component=COMPONENT
        )
