"""Single-cluster mode: a ``MongoDB`` object for this member cluster, reconciled by this agent alone.

Two sources, one converge pass:
- the bus: ``fs-spec`` keys ``<tenant>.<ns>.mongodb.<name>`` whose ``targetCluster`` is this cluster
  (``fedstate apply -f FILE --cluster NAME``); status goes to ``fs-status`` (this agent is its writer
  for this kind); on delete the agent tears down and removes the status, the federation service then
  drops the spec;
- the cluster's own API: ``MongoDB`` custom resources (key ``cr/<ns>/<name>``), with a finalizer and
  the status subresource; each is also mirrored, with its status, to ``fs-local-objects``
  (``<cluster>.<tenant>.<ns>.<name>``), from where the gateway lists it.

A pass: load · read what Kubernetes holds (members, volumes, Secret) · observe · plan (the shared
``fedstate.replset.plan``) · apply · act · status.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from fedstate.bus.connection import Bus
from fedstate.bus.names import InstanceKey, Kind, parse_spec_key
from fedstate.bus.objects import LocalObject, StatusRecord
from fedstate.bus.validation import kubernetes_rule_errors
from fedstate.models.base import Condition, set_condition, utcnow
from fedstate.models.dataplane import DataPlaneStatus
from fedstate.models.errors import describe
from fedstate.models.mongodb import DataPlaneState, MongoDB, MongoDBStatus
from fedstate.reconcile import DONE, Result
from fedstate.replset import ImageUnsupported, TransitionRefused, check_image_supported, check_image_transition
from fedstate.sealing import KeyRing, NotSealedYet, PinnedKeys, SealingError, open_object
from fedstate.settings import AgentSettings

from .customresources import FINALIZER, MongoDBResources
from .kubeobjects import SINGLE_CLUSTER_KIND, KubeObjects
from .memberset import Acted, EventSink, MemberSet, ObjectsRefused
from .reconciler import (
    BUSY_REQUEUE_SECONDS,
    REFUSED_REQUEUE_SECONDS,
    SEALED_CREDENTIALS,
    event_sink,
    follow_members,
    is_steady,
    requeue_for,
)
from .singlecluster import base_spec, credentials, lifecycle, ordinal_of, planned_spec, status_of

log = logging.getLogger(__name__)
CR_PREFIX = "cr/"
ERROR_REQUEUE_SECONDS = 30.0
CONFIG_REF_REQUEUE_SECONDS = 5.0


def cr_key(namespace: str, name: str) -> str:
    return f"{CR_PREFIX}{namespace}/{name}"


@dataclass
class Pass:
    status: MongoDBStatus
    result: Result


class SingleClusterReconciler:
    def __init__(
        self,
        bus: Bus,
        kube: KubeObjects,
        resources: MongoDBResources,
        settings: AgentSettings,
        members: MemberSet,
        ring: KeyRing,
        trusted: PinnedKeys,
    ) -> None:
        self.bus = bus
        self.ring = ring
        self.trusted = trusted
        self.kube = kube
        self.resources = resources
        self.settings = settings
        self.members = members
        self.enqueue: Callable[[str], None] = lambda key: None  # set to the controller's once it exists
        # namespace/name → the last report: what a pass compares with to know whether anything changed
        self._last: dict[str, DataPlaneStatus] = {}

    async def reconcile(self, key: str) -> Result:
        if key.startswith(CR_PREFIX):
            namespace, _, name = key.removeprefix(CR_PREFIX).partition("/")
            return await self._custom_resource(namespace, name)
        return await self._bus_object(key)

    # The bus: fs-spec → fs-status
    async def _bus_object(self, key: str) -> Result:
        instance = parse_spec_key(key)
        entry = await self.bus.spec.get(key)
        if entry is None:
            # Gone while we were away: remove what runs here under that name, unless a custom resource owns it.
            if await self.resources.get(instance.namespace, instance.name) is None and await self._tear_down(
                instance.namespace, instance.name
            ):
                return Result(requeue_after=BUSY_REQUEUE_SECONDS)
            await self.bus.status.delete(key)
            return DONE
        if entry.value.target_cluster != self.settings.cluster:
            return DONE  # another cluster's (the target cannot change)
        stored = entry.value
        if stored.deleting:
            return await self._delete_bus_object(key, instance)
        events = self._events(instance)
        entry_status = await self.bus.status.get(key)
        previous = entry_status.value.mongodb if entry_status else None
        if previous is None:
            # Status first: the federation service finalizes a deleted object only once its status is gone.
            previous = MongoDBStatus()
            await self.bus.status.put(key, StatusRecord(kind="MongoDB", mongodb=previous))
            await events(f"State{previous.state}", f"{instance.name} is {previous.state}: accepted", False)
        try:
            opened = open_object(self.ring, stored, self.settings.cluster, self.trusted.keys())
        except NotSealedYet as exc:
            # The federation seals them once it has read this cluster's key; its write brings the object back.
            # Until then what runs here stays as it is, and nothing is refused.
            log.info("waiting for the federation to seal the object's secrets", extra={"key": key, "why": str(exc)})
            return Result(requeue_after=ERROR_REQUEUE_SECONDS)
        except SealingError as exc:
            return await self._refuse_credentials(key, instance.name, previous, str(exc), events)
        done = await self._converge(key, opened.as_mongodb(), stored.tenant, previous, events)
        await self.bus.status.put_if_changed(key, StatusRecord(kind="MongoDB", mongodb=done.status))
        return done.result

    async def _refuse_credentials(
        self, key: str, name: str, previous: MongoDBStatus, why: str, events: EventSink
    ) -> Result:
        """Secrets not sealed by the federation to this cluster for this generation are never used: the status and
        an event say why, and nothing is done in the cluster. The federation's next seal brings the object back."""
        log.warning("refused the object's sealed secrets", extra={"key": key, "error": why})
        message = f"refused the sealed secrets, nothing is changed in this cluster: {why}"
        refused = _failed(previous, SEALED_CREDENTIALS, message)
        if refused != previous:
            await events(SEALED_CREDENTIALS, f"{name}: {message}", True)
            await _tell_state(name, previous, refused, events)
            await self.bus.status.put(key, StatusRecord(kind="MongoDB", mongodb=refused))
        return Result(requeue_after=ERROR_REQUEUE_SECONDS)

    async def _delete_bus_object(self, key: str, instance: InstanceKey) -> Result:
        if await self._tear_down(instance.namespace, instance.name):
            return Result(requeue_after=BUSY_REQUEUE_SECONDS)
        await self.bus.status.delete(key)
        return DONE

    # The cluster's own API: MongoDB custom resources
    async def _custom_resource(self, namespace: str, name: str) -> Result:
        found = await self.resources.get(namespace, name)
        mirror_key = InstanceKey(self.settings.tenant, namespace, Kind.MONGODB, name).local_object_key(
            self.settings.cluster
        )
        if found is None:
            if not await self._on_the_bus(namespace, name):
                await self._tear_down(namespace, name)
            await self.bus.local.delete(mirror_key)
            return DONE
        finalizers = list(found.get("metadata", {}).get("finalizers") or [])
        if found["metadata"].get("deletionTimestamp"):
            if await self._tear_down(namespace, name):
                return Result(requeue_after=BUSY_REQUEUE_SECONDS)
            await self.resources.set_finalizers(namespace, name, [f for f in finalizers if f != FINALIZER])
            await self.bus.local.delete(mirror_key)
            return DONE
        if FINALIZER not in finalizers:
            await self.resources.set_finalizers(namespace, name, [*finalizers, FINALIZER])
        previous = _previous_status(found)
        try:
            obj = MongoDB.model_validate({k: v for k, v in found.items() if k != "status"})
            refused = ", ".join(map(str, kubernetes_rule_errors(obj)))
        except ValidationError as exc:
            refused = describe(exc)
        if refused:
            invalid = _failed(previous, "Invalid", f"MongoDB is invalid: {refused}")
            await self.resources.patch_status(namespace, name, invalid.to_wire())
            await self._mirror(mirror_key, found, invalid)
            return Result(requeue_after=ERROR_REQUEUE_SECONDS)
        instance = InstanceKey(self.settings.tenant, namespace, Kind.MONGODB, name)
        done = await self._converge(
            cr_key(namespace, name), obj, self.settings.tenant, previous, self._events(instance)
        )
        if done.status != previous:
            await self.resources.patch_status(namespace, name, done.status.to_wire())
        await self._mirror(mirror_key, found, done.status)
        return done.result

    async def _mirror(self, key: str, found: dict[str, Any], status: MongoDBStatus) -> None:
        """The custom resource and its status on the bus (``fs-local-objects``), for the gateway to list."""
        try:
            mirror = LocalObject.of_custom_resource(found, self.settings.tenant, self.settings.cluster, status)
        except ValidationError:
            return  # a name that is no DNS-1123 label cannot be a key; the custom resource's status says why
        await self.bus.local.put_if_changed(key, mirror)

    async def _on_the_bus(self, namespace: str, name: str) -> bool:
        """Does a MongoDB applied through the bus run here under this name?"""
        entry = await self.bus.spec.get(InstanceKey(self.settings.tenant, namespace, Kind.MONGODB, name).spec_key)
        return entry is not None and entry.value.target_cluster == self.settings.cluster

    # One pass, whatever the source
    async def _converge(
        self, key: str, obj: MongoDB, tenant: str, previous: MongoDBStatus | None, events: EventSink
    ) -> Pass:
        namespace, name = obj.metadata.namespace, obj.metadata.name
        statefulsets = await self.kube.statefulsets(namespace, name, SINGLE_CLUSTER_KIND)
        existing = [o for s in statefulsets if (o := ordinal_of(s["metadata"]["name"])) is not None]
        claims = await self.kube.claims(namespace, name)
        used = {o for c in claims if (o := ordinal_of(c["metadata"]["name"])) is not None} | set(existing)
        error = _refused_image(statefulsets, obj.spec.image)
        held = await self.kube.secret_data(namespace, f"{name}-auth")
        ref = obj.spec.custom_config_ref
        content = await self._config(tenant, namespace, ref) if ref else None
        base = base_spec(
            obj, tenant, self.settings.cluster, existing, credentials(obj.spec.root_password, held), content
        )
        snapshot = await self.members.observe(base, self._last.get(f"{namespace}/{name}"))
        seen = self.members.report(base, snapshot, Acted())
        if error is not None:
            refused = status_of(seen, None, previous, utcnow(), error)
            await _tell_state(name, previous, refused, events)
            return Pass(refused, Result(requeue_after=ERROR_REQUEUE_SECONDS))
        decided = lifecycle(obj, self.settings.cluster, base, seen, used)
        spec = planned_spec(base, decided)
        try:
            await self.members.apply(spec, events)
        except ObjectsRefused as refused:
            failed = status_of(seen, decided, previous, utcnow(), str(refused))
            await _tell_state(name, previous, failed, events)
            return Pass(failed, Result(requeue_after=REFUSED_REQUEUE_SECONDS))
        acted = await self.members.act(spec, snapshot, events)
        report = self.members.report(spec, snapshot, acted)
        status = status_of(report, decided, previous, utcnow(), config_ref=(ref, content is not None) if ref else None)
        await _tell_state(name, previous, status, events)
        follow_members(self.members.mongo, report, lambda: self.enqueue(key))
        self._last[f"{namespace}/{name}"] = report
        if acted.created_users:
            return Pass(status, Result(requeue_after=0))  # this pass's look predates the users: look again now
        if is_steady(report, spec):
            await self.members.mongo.settle(set(report.addresses().values()), snapshot.primary)
        if ref and content is None:  # nothing tells us when the ConfigMap appears: look again soon
            return Pass(status, Result(requeue_after=CONFIG_REF_REQUEUE_SECONDS))
        return Pass(
            status,
            requeue_for(report, spec, self.settings.resync_seconds, heartbeat_seconds=snapshot.heartbeat_seconds),
        )

    async def _config(self, tenant: str, namespace: str, ref: str) -> dict[str, str] | None:
        """The ConfigMap ``customConfigRef`` names: this cluster's own, else one applied through fedstate."""
        held = await self.kube.config_map_data(namespace, ref)
        if held is not None:
            return held
        federated = await self.bus.spec.get(InstanceKey(tenant, namespace, Kind.CONFIGMAP, ref).spec_key)
        return federated.value.data if federated else None

    async def _tear_down(self, namespace: str, name: str) -> int:
        last = self._last.pop(f"{namespace}/{name}", None)
        return await self.members.tear_down(namespace, name, SINGLE_CLUSTER_KIND, last)

    def _events(self, instance: InstanceKey) -> EventSink:
        return event_sink(self.bus, self.settings.cluster, instance)


async def _tell_state(name: str, previous: MongoDBStatus | None, status: MongoDBStatus, events: EventSink) -> None:
    """Every change of state is told, with the reason the ``Ready`` condition carries."""
    if previous is not None and previous.state == status.state:
        return
    ready = next((c.message for c in status.conditions if c.type == "Ready"), "")
    await events(f"State{status.state}", f"{name} is {status.state}: {ready}", status.state == DataPlaneState.ERROR)


def _refused_image(statefulsets: list[dict[str, Any]], image: str) -> str | None:
    """A release older than fedstate manages, or a downgrade across major versions (or a skipped release) from
    what the members run, is refused: a custom resource in the cluster meets no intake that refuses it."""
    try:
        check_image_supported(image)
    except ImageUnsupported as unsupported:
        return f"spec.image: {unsupported}"
    for sts in statefulsets:
        containers = sts.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
        running = next((c.get("image") for c in containers if c.get("name") == "mongod"), None)
        if running:
            try:
                check_image_transition(running, image)
            except TransitionRefused as refused:
                return f"spec.image: {refused}"
    return None


def _previous_status(found: dict[str, Any]) -> MongoDBStatus | None:
    try:
        return MongoDBStatus.model_validate(found["status"]) if found.get("status") else None
    except ValidationError:
        return None


def _failed(previous: MongoDBStatus | None, reason: str, message: str) -> MongoDBStatus:
    """``previous`` in state Error, its ``Ready`` condition saying why."""
    status = previous or MongoDBStatus()
    condition = Condition(type="Ready", status="False", reason=reason, message=message)
    return status.model_copy(
        update={"state": DataPlaneState.ERROR, "conditions": set_condition(status.conditions, condition, utcnow())}
    )
