"""``MultiCloudMongoDB``: one replica set spread over several member clusters (federation mode)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StrictInt, field_validator, model_validator

from .base import Condition, ObjectMeta, Quantity, ResourceRequirements, WireModel
from .errors import unsupported

MAX_MEMBERS = 50


class SchedulerMode(StrEnum):
    UNIFORM = "Uniform"
    WEIGHTED = "Weighted"
    DYNAMIC = "Dynamic"
    AGGREGATED = "Aggregated"


# FedState's spelling of Weighted is accepted and normalised.
_MODE_ALIASES = {"Weighting": SchedulerMode.WEIGHTED}


class InstanceState(StrEnum):
    HEALTH = "Health"
    SUB_HEALTH = "SubHealth"
    UN_HEALTH = "UnHealth"
    UNKNOWN = "Unknown"
    CREATING = "Creating"
    DELETING = "Deleting"


# Integers and booleans of user specs are strict, as the CRD's and the JSON schemas' types say:
# ``replicaset: "3"`` or ``enable: "true"`` is refused, not read as 3 or True.


class ExportSpec(WireModel):
    enable: StrictBool = False
    resource: ResourceRequirements | None = None


class StorageSpec(WireModel):
    storage_class: str | None = None
    storage_size: Quantity = "1Gi"
    # Retain keeps data volumes after delete or scale-down (the safe default); Delete removes them.
    retention_policy: Literal["Retain", "Delete"] = "Retain"
    # On create: mount the volumes the last deleted instance of this name kept, with its data, users and
    # keyFile, instead of starting empty. Without it a new instance never sees an old one's data.
    adopt_retained_volumes: StrictBool = False


class RegistryCredentials(WireModel):
    username: str
    password: str
    registry: str | None = None


class ImageSetting(WireModel):
    image: str = "mongo:6.0"
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    # The name of an existing Secret, or credentials to build one from.
    image_pull_secret: str | RegistryCredentials | None = None


class AuthSpec(WireModel):
    root_passwd: str | None = None


class ConfigEntry(WireModel):
    name: str
    value: str


class MongoConfigSpec(WireModel):
    arbiter: StrictBool = False
    config_ref: str | None = None
    config_set: list[ConfigEntry] = Field(default_factory=list)

    @field_validator("config_set", mode="before")
    @classmethod
    def _mapping_to_entries(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return [{"name": k, "value": str(v)} for k, v in value.items()]
        return value


class ClusterWeight(WireModel):
    """A static weight for Weighted mode: by cluster name, or for every cluster carrying a label."""

    cluster: str | None = None
    label_selector: dict[str, str] | None = None
    weight: Annotated[StrictInt, Field(ge=0)]


class SchedulerSpec(WireModel):
    scheduler_mode: SchedulerMode = SchedulerMode.UNIFORM
    scheduler_name: str | None = None
    affinity: dict[str, Any] | None = None
    tolerations: list[dict[str, Any]] = Field(default_factory=list)
    weights: list[ClusterWeight] = Field(default_factory=list)

    @field_validator("scheduler_mode", mode="before")
    @classmethod
    def _normalise_mode(cls, value: Any) -> Any:
        if isinstance(value, str) and value in _MODE_ALIASES:
            return _MODE_ALIASES[value]
        valid = [m.value for m in SchedulerMode] + list(_MODE_ALIASES)
        if isinstance(value, str) and value not in valid:
            raise ValueError(unsupported(value, valid))
        return value


class SpreadConstraint(WireModel):
    spread_by_field: Literal["cluster", "region", "zone", "provider"] | None = None
    spread_by_label: str | None = None
    min_groups: Annotated[StrictInt, Field(ge=0)] = 0
    max_groups: Annotated[StrictInt, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _one_key(self) -> SpreadConstraint:
        if (self.spread_by_field is None) == (self.spread_by_label is None):
            raise ValueError("set exactly one of spreadByField and spreadByLabel")
        if self.max_groups is not None and self.max_groups < self.min_groups:
            raise ValueError("maxGroups must not be below minGroups")
        return self


class SpreadConstraints(WireModel):
    node_select: dict[str, str] = Field(default_factory=dict)
    spread_constraints: list[SpreadConstraint] = Field(default_factory=list)


class FailoverSpec(WireModel):
    # A forced reconfig may roll back majority-committed writes: opt-in only.
    force_reconfig: StrictBool = False


class MultiCloudMongoDBSpec(WireModel):
    replicaset: Annotated[StrictInt, Field(ge=1, le=MAX_MEMBERS)] = 3
    export: ExportSpec = Field(default_factory=ExportSpec)
    resource: ResourceRequirements = Field(default_factory=ResourceRequirements)
    storage: StorageSpec = Field(default_factory=StorageSpec)
    image_setting: ImageSetting = Field(default_factory=ImageSetting)
    auth: AuthSpec = Field(default_factory=AuthSpec)
    config: MongoConfigSpec = Field(default_factory=MongoConfigSpec)
    scheduler: SchedulerSpec = Field(default_factory=SchedulerSpec)
    spread_constraints: SpreadConstraints = Field(default_factory=SpreadConstraints)
    failover: FailoverSpec = Field(default_factory=FailoverSpec)


class ClusterResult(WireModel):
    """One member cluster's part of the replica set, in the shape of FedState's status."""

    applied: bool = False
    cluster: str
    connect_addr_with_role: dict[str, str] = Field(default_factory=dict)
    current_revision: str = ""
    replicaset_spec: int = 0
    replicaset_status: int = 0
    state: str = "Creating"


class MultiCloudMongoDBStatus(WireModel):
    conditions: list[Condition] = Field(default_factory=list)
    external_addr: str = ""
    result: list[ClusterResult] = Field(default_factory=list)
    state: InstanceState = InstanceState.UNKNOWN
    observed_generation: int = 0

    def condition(self, type_: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == type_), None)


class MultiCloudMongoDB(WireModel):
    api_version: Literal["middleware.fedstate.io/v1alpha1"] = "middleware.fedstate.io/v1alpha1"
    kind: Literal["MultiCloudMongoDB"] = "MultiCloudMongoDB"
    metadata: ObjectMeta
    spec: MultiCloudMongoDBSpec = Field(default_factory=MultiCloudMongoDBSpec)
    status: MultiCloudMongoDBStatus | None = None
