"""The values of ``fs-spec`` and ``fs-status``: a user object as stored, and its status.

The spec is validated into the typed model at intake; stored objects keep the wire
form so a reader of an older minor version still loads them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from fedstate.models.base import ObjectMeta, WireModel
from fedstate.models.mongodb import MongoDB, MongoDBStatus
from fedstate.models.multicloud import MultiCloudMongoDB, MultiCloudMongoDBStatus
from fedstate.models.redaction import redact
from fedstate.models.sealed import Sealed

from .names import DEFAULT_TENANT, InstanceKey, Kind

_KIND_NAMES = {"MultiCloudMongoDB": Kind.MULTICLOUD_MONGODB, "MongoDB": Kind.MONGODB, "ConfigMap": Kind.CONFIGMAP}
KIND_BY_NAME = dict(_KIND_NAMES)
NAME_BY_KIND = {v: k for k, v in _KIND_NAMES.items()}


class RecoveryRequest(WireModel):
    """A forced recovery asked for (``fedstate recover mcm NAME --force``), recorded by intake on the object.

    It holds for the quorum loss it was asked for only: the orchestrator acts on it while the instance's
    ``QuorumLost`` condition is True with this ``lastTransitionTime``; a later loss needs a new request."""

    requested_at: datetime
    quorum_lost_since: datetime
    force: bool = True


class StoredObject(WireModel):
    api_version: str
    kind: str
    tenant: str = DEFAULT_TENANT
    metadata: ObjectMeta
    spec: dict[str, Any] = Field(default_factory=dict)
    # ConfigMap objects carry their content here instead of a spec.
    data: dict[str, str] | None = None
    # Single-cluster MongoDB objects name the member cluster that runs them.
    target_cluster: str | None = None
    # The last forced recovery asked for (MultiCloudMongoDB only); kept across applies.
    recovery: RecoveryRequest | None = None
    # A single-cluster MongoDB's secret fields, sealed by the federation to its target cluster's agent (the spec
    # holds them sealed to the federation itself): docs/decisions/0014-sealed-credentials.md.
    sealed: Sealed | None = None

    @property
    def key(self) -> InstanceKey:
        return InstanceKey(self.tenant, self.metadata.namespace, KIND_BY_NAME[self.kind], self.metadata.name)

    def _object_wire(self) -> dict[str, Any]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "metadata": self.metadata,
            "spec": self.spec,
        }

    def as_multicloud(self) -> MultiCloudMongoDB:
        return MultiCloudMongoDB.model_validate(self._object_wire())

    def as_mongodb(self) -> MongoDB:
        return MongoDB.model_validate(self._object_wire())

    def cluster_binding(self, cluster: str) -> str:
        """What a box of this object's secrets sealed to ``cluster`` is for: tenant, instance (its uid), cluster and
        generation. A box copied into another object, or an earlier root password replayed, does not match."""
        k = self.key
        return (
            f"spec:{k.tenant}/{k.namespace}/{k.kind}/{k.name}/{self.metadata.uid}@{cluster}#{self.metadata.generation}"
        )

    @property
    def deleting(self) -> bool:
        return self.metadata.deletion_timestamp is not None


class StatusRecord(WireModel):
    """``fs-status`` value: the status of one object, for the generation it describes."""

    kind: str
    multicloud: MultiCloudMongoDBStatus | None = None
    mongodb: MongoDBStatus | None = None

    def wire_status(self) -> dict[str, Any]:
        status = self.multicloud or self.mongodb
        return status.to_wire() if status else {}


class LocalObject(WireModel):
    """``fs-local-objects`` value: a ``MongoDB`` custom resource created on a member cluster's own API.

    That cluster's agent reconciles it and writes its status to the custom resource; it also mirrors
    the object here (spec without secrets, ``targetCluster`` = its cluster) with the same status, so
    the gateway lists it with the ``MongoDB`` objects applied through the bus.
    """

    object: StoredObject
    status: StatusRecord

    @classmethod
    def of_custom_resource(cls, found: dict[str, Any], tenant: str, cluster: str, status: MongoDBStatus) -> LocalObject:
        """The mirror of a custom resource as read from Kubernetes; ``ValidationError`` if its metadata is not ours."""
        stored = StoredObject(
            api_version=str(found.get("apiVersion", "")),
            kind="MongoDB",
            tenant=tenant,
            # Without resourceVersion: it changes on every status write, the mirror only when something shown does.
            metadata=ObjectMeta.model_validate({**(found.get("metadata") or {}), "resourceVersion": None}),
            spec=redact("MongoDB", dict(found.get("spec") or {})),
            target_cluster=cluster,
        )
        return cls(object=stored, status=StatusRecord(kind="MongoDB", mongodb=status))
