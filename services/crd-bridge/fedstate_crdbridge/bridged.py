"""What the bridge decides, without I/O: the object it submits for a custom resource, whether the federation
already holds that generation, and the status the custom resource shows.

A submitted object carries the custom resource's generation and uid as annotations; the federation stores them
with the spec, so after a restart (or a 410 Gone and a fresh list) the bridge compares them with the custom
resource and submits nothing the federation already holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fedstate.api.resources import CLUSTER_ANNOTATION, MONGODB, MULTICLOUD_MONGODB, Resource
from fedstate.bus.names import InstanceKey
from fedstate.bus.objects import StatusRecord, StoredObject
from fedstate.models.base import Condition, set_condition
from fedstate.models.mongodb import DataPlaneState, MongoDBStatus
from fedstate.models.multicloud import InstanceState, MultiCloudMongoDBStatus

FINALIZER = "fedstate.io/crd-bridge"
GENERATION_ANNOTATION = "fedstate.io/bridged-generation"
UID_ANNOTATION = "fedstate.io/bridged-uid"
BRIDGED = (MULTICLOUD_MONGODB, MONGODB)
KubeDict = dict[str, Any]


class BridgedMultiCloudStatus(MultiCloudMongoDBStatus):
    """A ``MultiCloudMongoDB`` custom resource's status: the federation's (the seed's shape), with
    ``observedGeneration`` counted in the custom resource's generations and the primary for ``kubectl get``."""

    primary: str = ""


class BridgedMongoDBStatus(MongoDBStatus):
    """A ``MongoDB`` custom resource's status: as its agent reports it, plus the same two fields."""

    observed_generation: int = 0
    primary: str = ""


@dataclass(frozen=True)
class CustomResource:
    """The parts of a custom resource the bridge reads."""

    resource: Resource
    body: KubeDict

    @property
    def metadata(self) -> KubeDict:
        return dict(self.body.get("metadata") or {})

    @property
    def namespace(self) -> str:
        return str(self.metadata.get("namespace") or "default")

    @property
    def name(self) -> str:
        return str(self.metadata.get("name") or "")

    @property
    def generation(self) -> int:
        return int(self.metadata.get("generation") or 0)

    @property
    def uid(self) -> str:
        return str(self.metadata.get("uid") or "")

    @property
    def deleting(self) -> bool:
        return bool(self.metadata.get("deletionTimestamp"))

    @property
    def finalizers(self) -> list[str]:
        return list(self.metadata.get("finalizers") or [])

    @property
    def status(self) -> KubeDict:
        return dict(self.body.get("status") or {})

    def instance(self, tenant: str) -> InstanceKey:
        return InstanceKey(tenant, self.namespace, self.resource.bus_kind, self.name)


def is_bridged(resource: Resource, body: KubeDict) -> bool:
    """Every ``MultiCloudMongoDB``; a ``MongoDB`` only when it names its member cluster (``fedstate.io/cluster``,
    the annotation ``fedstate apply --cluster`` sets): without one it is no federation's object."""
    if resource is not MONGODB:
        return True
    return bool(((body.get("metadata") or {}).get("annotations") or {}).get(CLUSTER_ANNOTATION))


def submission(cr: CustomResource) -> KubeDict:
    """The object the intake is asked to apply: the custom resource's fields, names, labels and annotations, and
    the generation and uid it was made from. Server-owned metadata (resourceVersion above all: the intake would
    read it as one of its own revisions) stays behind."""
    metadata = cr.metadata
    annotations = {
        **(metadata.get("annotations") or {}),
        GENERATION_ANNOTATION: str(cr.generation),
        UID_ANNOTATION: cr.uid,
    }
    kept = {"name": cr.name, "namespace": cr.namespace, "annotations": annotations}
    if metadata.get("labels"):
        kept["labels"] = metadata["labels"]
    # spec, and the kind's other top-level fields (a MultiCloudMongoDB's spreadConstraints and failover)
    rest = {k: v for k, v in cr.body.items() if k not in ("apiVersion", "kind", "metadata", "status")}
    return {
        **rest,
        "apiVersion": cr.body.get("apiVersion") or cr.resource.api_version,
        "kind": cr.resource.kind,
        "metadata": kept,
    }


def bridged_generation(stored: StoredObject | None, uid: str) -> int | None:
    """The custom resource's generation the federation holds, if it holds one of this custom resource."""
    if stored is None:
        return None
    annotations = stored.metadata.annotations
    if annotations.get(UID_ANNOTATION) != uid:
        return None
    try:
        return int(annotations.get(GENERATION_ANNOTATION, ""))
    except ValueError:
        return None


def needs_submitting(cr: CustomResource, stored: StoredObject | None) -> bool:
    """A generation the federation does not hold yet (a deleted object is submitted no more)."""
    if stored is not None and stored.deleting:
        return False
    return bridged_generation(stored, cr.uid) != cr.generation


def refused_generation(cr: CustomResource) -> bool:
    """Has this generation been refused already (its status says so)? Then it is neither checked nor told again."""
    synced = next((c for c in cr.status.get("conditions") or [] if c.get("type") == "Synced"), None)
    return (
        synced is not None
        and synced.get("status") == "False"
        and synced.get("reason") == "Invalid"
        and cr.status.get("observedGeneration") == cr.generation
    )


def _conditions(status: KubeDict) -> list[Condition]:
    return [Condition.model_validate(c) for c in status.get("conditions") or []]


def refused_status(cr: CustomResource, message: str, now: datetime) -> KubeDict:
    """The custom resource's status once its generation was refused: what it showed, with ``Synced`` False
    (reason Invalid, the field paths in the message) for that generation."""
    status = cr.status
    synced = Condition(type="Synced", status="False", reason="Invalid", message=message)
    conditions = set_condition(_conditions(status), synced, now)
    return {**status, "conditions": [c.to_wire() for c in conditions], "observedGeneration": cr.generation}


def _primary_of_multicloud(status: MultiCloudMongoDBStatus) -> str:
    for result in status.result:
        for address, role in sorted(result.connect_addr_with_role.items()):
            if role == "PRIMARY":
                return f"{address}@{result.cluster}"
    return ""


def _primary_of_mongodb(status: MongoDBStatus, cluster: str) -> str:
    return next((f"{m.name}@{cluster}" for m in status.replset if m.state_str == "PRIMARY"), "")


def synced_status(cr: CustomResource, stored: StoredObject, record: StatusRecord | None, now: datetime) -> KubeDict:
    """The custom resource's status from what the federation holds: the federation's status of the object in
    the seed's shape, ``Synced`` (the generation it holds) and ``Ready`` (that generation is healthy)."""
    generation = bridged_generation(stored, cr.uid) or 0
    previous = _conditions(cr.status)
    base: BridgedMultiCloudStatus | BridgedMongoDBStatus
    if cr.resource is MULTICLOUD_MONGODB:
        federated = record.multicloud if record and record.multicloud else MultiCloudMongoDBStatus()
        caught_up = federated.observed_generation == stored.metadata.generation
        ready = caught_up and federated.state == InstanceState.HEALTH
        base = BridgedMultiCloudStatus(
            **{**federated.model_dump(), "primary": _primary_of_multicloud(federated)},
        )
        state = str(federated.state)
    else:
        reported = record.mongodb if record and record.mongodb else MongoDBStatus()
        ready = reported.state == DataPlaneState.RUNNING
        base = BridgedMongoDBStatus(
            **{**reported.model_dump(), "primary": _primary_of_mongodb(reported, stored.target_cluster or "")}
        )
        state = str(reported.state)
    if stored.deleting:
        synced = Condition(
            type="Synced", status="True", reason="Deleting", message="the federation is removing its members"
        )
    else:
        synced = Condition(
            type="Synced",
            status="True",
            reason="Submitted",
            message=f"generation {generation} is the federation's generation {stored.metadata.generation}",
        )
    readiness = Condition(
        type="Ready",
        status="True" if ready else "False",
        reason=state,
        message=f"{cr.resource.kind} {cr.name} is {state}",
    )
    conditions = list(base.conditions)
    for condition in (synced, readiness):
        kept = set_condition(previous, condition, now)
        conditions = [
            *(c for c in conditions if c.type != condition.type),
            *(c for c in kept if c.type == condition.type),
        ]
    base = base.model_copy(update={"conditions": conditions, "observed_generation": generation})
    return base.to_wire()


# The status schema of each bridged kind's custom resource: ``crds.py`` makes the CRDs from them.
STATUS_MODELS: dict[str, type[BridgedMultiCloudStatus] | type[BridgedMongoDBStatus]] = {
    MULTICLOUD_MONGODB.kind: BridgedMultiCloudStatus,
    MONGODB.kind: BridgedMongoDBStatus,
}
