"""What the orchestrator asks of one member cluster (``DataPlaneSpec``) and what its agent reports
back (``DataPlaneStatus``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from .base import Condition, ResourceRequirements, WireModel
from .multicloud import ConfigEntry, ExportSpec, StorageSpec
from .replicaset import RsConfig


class InstanceRef(WireModel):
    tenant: str
    namespace: str
    name: str
    uid: str = ""
    kind: str = "MultiCloudMongoDB"


class MemberSpec(WireModel):
    ordinal: int  # the member's replica-set _id, stable for the member's whole life
    name: str  # Kubernetes name of its Service and StatefulSet: <instance>-m<ordinal>
    arbiter: bool = False


class Credentials(WireModel):
    """Secret material the agent writes into the member cluster's ``<instance>-auth`` Secret."""

    key_file: str
    root_password: str
    cluster_admin_password: str
    cluster_monitor_password: str


class DataPlaneSpec(WireModel):
    instance: InstanceRef
    generation: int
    repl_set_name: str
    members: list[MemberSpec] = Field(default_factory=list)
    image: str = "mongo:6.0"
    image_pull_policy: str = "IfNotPresent"
    image_pull_secret: str | None = None
    resources: ResourceRequirements = Field(default_factory=ResourceRequirements)
    export: ExportSpec = Field(default_factory=ExportSpec)
    storage: StorageSpec = Field(default_factory=StorageSpec)
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[dict[str, Any]] = Field(default_factory=list)
    affinity: dict[str, Any] | None = None
    config_ref: str | None = None
    config_set: list[ConfigEntry] = Field(default_factory=list)
    # Content of the federated ConfigMap that config_ref names (None: none named, or not supplied).
    config_content: dict[str, str] | None = None
    credentials: Credentials
    # Set once every member address is known; only the initiator cluster's agent applies it.
    replica_set_config: RsConfig | None = None
    initiator: bool = False
    revision: str = ""


class MemberObservation(WireModel):
    ordinal: int
    name: str
    address: str | None = None  # VIP:NodePort once the Service has its NodePort
    pod_phase: str = "Absent"
    ready: bool = False
    node: str | None = None
    # The member's own view of its replica-set state (PRIMARY, SECONDARY, STARTUP2, ...).
    role: str = "UNKNOWN"
    message: str = ""


class ReplsetMemberView(WireModel):
    """One row of replSetGetStatus as seen from this cluster."""

    id: int
    host: str
    state: int
    state_str: str
    health: int
    sync_source_host: str = ""
    optime_seconds: int = 0


class DataPlaneStatus(WireModel):
    cluster: str
    generation: int = 0
    revision: str = ""  # the DataPlaneSpec revision this report is about
    members: list[MemberObservation] = Field(default_factory=list)
    initiated: bool = False
    users_ready: bool = False
    rs_config: RsConfig | None = None
    replset: list[ReplsetMemberView] = Field(default_factory=list)
    replset_seen_at: datetime | None = None
    conditions: list[Condition] = Field(default_factory=list)
    observed_at: datetime

    def addresses(self) -> dict[int, str]:
        return {m.ordinal: m.address for m in self.members if m.address}
