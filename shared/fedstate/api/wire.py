"""Bodies of the gateway's REST API, as the gateway writes them.

The CLI reads errors (``KubeStatus``) and ``VersionInfo`` with these models, and every other answer
through the light views of ``fedstate.api.views``, which need no pydantic.

User objects travel as Kubernetes objects (``KubeObject``/``KubeList``); every error is a
Kubernetes ``Status`` whose causes name field paths. Nothing here carries credentials.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from fedstate.api.views import Named
from fedstate.models.base import WireModel
from fedstate.models.cluster import ClusterHealth, NamespaceQuota
from fedstate.models.events import Event


class StatusCause(WireModel):
    field: str = ""
    message: str
    reason: str = "FieldValueInvalid"


class StatusDetails(WireModel):
    name: str | None = None
    group: str | None = None
    kind: str | None = None
    causes: list[StatusCause] = Field(default_factory=list)


class KubeStatus(WireModel):
    """A Kubernetes ``Status``: the body of every error (and of a delete without an object to return)."""

    kind: Literal["Status"] = "Status"
    api_version: Literal["v1"] = "v1"
    metadata: dict[str, Any] = Field(default_factory=dict)
    status: Literal["Success", "Failure"] = "Failure"
    message: str = ""
    reason: str = ""
    details: StatusDetails | None = None
    code: int

    def describe(self) -> str:
        """The error as kubectl prints it, each cause once.

        Invalid: ``The MultiCloudMongoDB "rs1" is invalid: spec.replicaset: ...`` (one ``* field: message``
        line per cause when there are several); otherwise the message, followed by the causes whose field
        and message it does not already state.
        """
        details = self.details or StatusDetails()
        if self.reason == "Invalid" and details.causes:
            head = f'The {details.kind} "{details.name}" is invalid' if details.kind and details.name else ""
            head = head or "The request is invalid"
            unsaid = details.causes
        else:
            head = self.message or self.reason
            unsaid = [c for c in details.causes if not (c.field in head and c.message in head)]
        causes = [f"{c.field}: {c.message}" if c.field else c.message for c in unsaid]
        if not causes:
            return head
        if len(causes) == 1:
            return f"{head}: {causes[0]}"
        return f"{head}:" + "".join(f"\n* {c}" for c in causes)


class KubeObject(Named, WireModel):
    """A user object as Kubernetes shows it: metadata, spec (or data for a ConfigMap) and status."""

    model_config = ConfigDict(extra="allow")

    api_version: str
    kind: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    spec: dict[str, Any] | None = None
    data: dict[str, str] | None = None
    status: dict[str, Any] | None = None


class KubeList(WireModel):
    api_version: str
    kind: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    items: list[KubeObject] = Field(default_factory=list)


class ClusterCapacity(WireModel):
    """Sums over the cluster's schedulable nodes: CPU in millicores, memory in bytes."""

    allocatable_cpu_millis: int = 0
    allocatable_memory_bytes: int = 0
    requested_cpu_millis: int = 0
    requested_memory_bytes: int = 0
    free_cpu_millis: int = 0
    free_memory_bytes: int = 0


class ClusterView(WireModel):
    name: str
    vip: str
    health: ClusterHealth
    heartbeat_age_seconds: float
    observed_at: datetime
    region: str = ""
    zone: str = ""
    provider: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    node_count: int = 0
    ready_nodes: int = 0
    cordoned_nodes: int = 0  # nodes that take no new pods (unschedulable), ready or not
    capacity: ClusterCapacity = Field(default_factory=ClusterCapacity)
    storage_classes: list[str] = Field(default_factory=list)
    default_storage_class: str | None = None
    node_ports_used: int = 0
    agent_version: str = ""
    # Namespace → what its ResourceQuotas still allow (only namespaces with a quota the scheduler weighs).
    quotas: dict[str, NamespaceQuota] = Field(default_factory=dict)


class ClusterList(WireModel):
    items: list[ClusterView] = Field(default_factory=list)


class EventList(WireModel):
    items: list[Event] = Field(default_factory=list)


class VersionInfo(WireModel):
    """``GET /version``: the server's build, with the fields of Kubernetes' ``version.Info`` that kubectl and the
    official clients show (``gitVersion`` is the fedstate release, as ``v0.1.0``)."""

    version: str  # the fedstate release the gateway runs
    python_version: str
    platform: str
    # Kubernetes' fields (its others, gitCommit, buildDate..., are read as empty when absent).
    major: str = ""
    minor: str = ""
    git_version: str = ""

    @classmethod
    def of_release(cls, release: str, python_version: str, platform: str) -> VersionInfo:
        major, _, rest = release.partition(".")
        return cls(
            version=release,
            python_version=python_version,
            platform=platform,
            major=major,
            minor=rest.partition(".")[0],
            git_version=f"v{release}",
        )


class Health(WireModel):
    ok: bool
    nats: bool = False
