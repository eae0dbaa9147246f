"""``MongoDB``: a replica set inside one member cluster (single-cluster mode, and the data-plane object)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StrictInt

from .base import Condition, ObjectMeta, Quantity, ResourceRequirements, WireModel
from .multicloud import MAX_MEMBERS, ConfigEntry, RegistryCredentials


class DataPlaneState(StrEnum):
    RUNNING = "Running"
    RECONCILING = "Reconciling"
    ERROR = "Error"
    PAUSE = "Pause"


class Persistence(WireModel):
    storage: Quantity = "1Gi"
    storage_class_name: str | None = None


class MetricsExporterSpec(WireModel):
    enable: StrictBool = True
    resources: ResourceRequirements | None = None


class PodSpecOverrides(WireModel):
    node_selector: dict[str, str] = Field(default_factory=dict)
    security_context: dict[str, Any] = Field(default_factory=dict)
    topology_spread_constraints: list[dict[str, Any]] = Field(default_factory=list)
    affinity: dict[str, Any] = Field(default_factory=dict)
    tolerations: list[dict[str, Any]] = Field(default_factory=list)


class MongoDBSpec(WireModel):
    members: Annotated[StrictInt, Field(ge=1, le=MAX_MEMBERS)] = 3  # strict, as multicloud.py says
    image: str = "mongo:6.0"
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    image_pull_secret: str | RegistryCredentials | None = None
    config: list[ConfigEntry] = Field(default_factory=list)
    custom_config_ref: str | None = None
    root_password: str | None = None
    resources: ResourceRequirements = Field(default_factory=ResourceRequirements)
    persistence: Persistence = Field(default_factory=Persistence)
    metrics_exporter_spec: MetricsExporterSpec = Field(default_factory=MetricsExporterSpec)
    pod_spec: PodSpecOverrides = Field(default_factory=PodSpecOverrides)


class ReplsetMember(WireModel):
    id: int = Field(alias="_id")
    name: str
    health: int = 0
    state: int = 0
    state_str: str = "UNKNOWN"
    sync_source_host: str = ""


class CurrentInfo(WireModel):
    members: int = 0


class MongoDBStatus(WireModel):
    conditions: list[Condition] = Field(default_factory=list)
    current_info: CurrentInfo = Field(default_factory=CurrentInfo)
    current_revision: str = ""
    replset: list[ReplsetMember] = Field(default_factory=list)
    state: DataPlaneState = DataPlaneState.RECONCILING


class MongoDB(WireModel):
    api_version: Literal["middleware.fedstate.io/v1alpha1"] = "middleware.fedstate.io/v1alpha1"
    kind: Literal["MongoDB"] = "MongoDB"
    metadata: ObjectMeta
    spec: MongoDBSpec = Field(default_factory=MongoDBSpec)
    status: MongoDBStatus | None = None
