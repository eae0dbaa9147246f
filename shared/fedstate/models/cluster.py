"""``ClusterSnapshot``: what a member cluster's collector reports to ``fs-clusters``."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import Field

from .base import WireModel


class ClusterHealth(StrEnum):
    READY = "Ready"
    UNREACHABLE = "Unreachable"


class Taint(WireModel):
    key: str
    value: str = ""
    effect: str = "NoSchedule"


class NodeResources(WireModel):
    """CPU in millicores and memory in bytes, so sums and comparisons stay exact integers."""

    name: str
    labels: dict[str, str] = Field(default_factory=dict)
    taints: list[Taint] = Field(default_factory=list)
    ready: bool = True
    schedulable: bool = True
    allocatable_cpu_millis: int = 0
    allocatable_memory_bytes: int = 0
    requested_cpu_millis: int = 0
    requested_memory_bytes: int = 0
    allocatable_pods: int = 110
    pods: int = 0

    @property
    def free_cpu_millis(self) -> int:
        return max(0, self.allocatable_cpu_millis - self.requested_cpu_millis)

    @property
    def free_memory_bytes(self) -> int:
        return max(0, self.allocatable_memory_bytes - self.requested_memory_bytes)


class QuotaLeft(WireModel):
    """How much of one resource a namespace's ResourceQuotas still allow, and the quota that allows the least."""

    room: int  # millicores (cpu), bytes (memory, storage) or a count (pods, claims); never below 0
    quota: str


class NamespaceQuota(WireModel):
    """What the ResourceQuotas of one namespace still allow, per quota resource the scheduler weighs (``pods``,
    ``requests.cpu``, ``requests.memory``, ``limits.cpu``, ``limits.memory``, ``persistentvolumeclaims``,
    ``requests.storage``; ``cpu`` is read as ``requests.cpu``, ``count/pods`` as ``pods``...): the least over the
    namespace's quotas. A quota that names cpu or memory also refuses a pod whose containers do not set it."""

    left: dict[str, QuotaLeft] = Field(default_factory=dict)
    # What the namespace's LimitRanges fill in for a container that does not set it (``requests.cpu``,
    # ``limits.memory``...: millicores or bytes), which then counts against the quotas as if set.
    defaults: dict[str, int] = Field(default_factory=dict)


def members_key(namespace: str, name: str) -> str:
    """How ``ClusterSnapshot.members`` names an instance: ``<namespace>/<name>``."""
    return f"{namespace}/{name}"


class ClusterSnapshot(WireModel):
    name: str
    vip: str
    region: str = ""
    zone: str = ""
    provider: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    nodes: list[NodeResources] = Field(default_factory=list)
    storage_classes: list[str] = Field(default_factory=list)
    default_storage_class: str | None = None
    node_ports_used: int = 0
    agent_version: str = ""
    # Running fedstate member pods per instance (``members_key``): what releases the scheduler's reservations.
    members: dict[str, int] = Field(default_factory=dict)
    # Namespace → what its ResourceQuotas still allow; only namespaces with a quota the scheduler weighs.
    quotas: dict[str, NamespaceQuota] = Field(default_factory=dict)
    observed_at: datetime

    def members_of(self, namespace: str, name: str) -> int:
        return self.members.get(members_key(namespace, name), 0)

    def health(self, now: datetime, failure_threshold: timedelta) -> ClusterHealth:
        fresh = now - self.observed_at <= failure_threshold
        return ClusterHealth.READY if fresh else ClusterHealth.UNREACHABLE

    def group_value(self, field: str) -> str:
        """The value of a spread field (cluster, region, zone, provider) or of a cluster label."""
        builtin = {"cluster": self.name, "region": self.region, "zone": self.zone, "provider": self.provider}
        return builtin[field] if field in builtin else self.labels.get(field, "")
