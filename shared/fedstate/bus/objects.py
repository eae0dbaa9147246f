"""The values of ``fs-spec`` and ``fs-status``: a user object as stored, and its status.

The spec is validated into the typed model at intake; stored objects keep the wire
form so a reader of an older minor version still loads them.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from fedstate.models.base import ObjectMeta, WireModel
from fedstate.models.mongodb import MongoDB, MongoDBStatus
from fedstate.models.multicloud import MultiCloudMongoDB, MultiCloudMongoDBStatus

from .names import DEFAULT_TENANT, InstanceKey, Kind

_KIND_NAMES = {"MultiCloudMongoDB": Kind.MULTICLOUD_MONGODB, "MongoDB": Kind.MONGODB, "ConfigMap": Kind.CONFIGMAP}
KIND_BY_NAME = dict(_KIND_NAMES)
NAME_BY_KIND = {v: k for k, v in _KIND_NAMES.items()}


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
