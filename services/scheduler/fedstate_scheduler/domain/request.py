"""The frozen input of one placement decision, and the shape of one member in exact integers.

``decide`` is a pure function of a ``PlacementRequest``: the spec (and its generation),
the cluster snapshots, the clock reading, the current Placement and the capacity already
promised to placements whose members the collectors cannot see yet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fedstate.models.base import ResourceList, ResourceRequirements, quantity_value
from fedstate.models.cluster import ClusterSnapshot
from fedstate.models.multicloud import MultiCloudMongoDBSpec
from fedstate.models.placement import Placement

DEFAULT_FAILURE_THRESHOLD = timedelta(seconds=20)


@dataclass(frozen=True, order=True)
class MemberShape:
    """What one member pod requests: mongod plus the exporter sidecar, in millicores and bytes."""

    cpu_millis: int = 0
    memory_bytes: int = 0

    @classmethod
    def of(cls, spec: MultiCloudMongoDBSpec) -> MemberShape:
        mongod = _shape(spec.resource.effective_requests())
        if spec.export.enable and spec.export.resource is not None:
            exporter = _shape(spec.export.resource.effective_requests())
            return cls(mongod.cpu_millis + exporter.cpu_millis, mongod.memory_bytes + exporter.memory_bytes)
        return mongod


def quota_charge(spec: MultiCloudMongoDBSpec) -> dict[str, int | None]:
    """What one member uses of a namespace's ResourceQuotas, by quota resource (``NamespaceQuota``'s names): its
    pod and its claim, and the requests and limits of its containers summed. None where a container does not set
    the value: kube's quota admission refuses such a pod outright under a quota that counts it ("must specify")."""
    containers = [spec.resource]
    if spec.export.enable:
        containers.append(spec.export.resource or ResourceRequirements())

    def summed(lists: list[ResourceList], field: str, scale: int) -> int | None:
        values = [getattr(resources, field) for resources in lists]
        if any(value is None for value in values):
            return None
        return sum(int(-(-quantity_value(value) * scale // 1)) for value in values)

    requests = [c.effective_requests() for c in containers]
    limits = [c.limits or ResourceList() for c in containers]
    return {
        "pods": 1,
        "persistentvolumeclaims": 1,
        "requests.storage": int(-(-quantity_value(spec.storage.storage_size) // 1)),
        "requests.cpu": summed(requests, "cpu", 1000),
        "requests.memory": summed(requests, "memory", 1),
        "limits.cpu": summed(limits, "cpu", 1000),
        "limits.memory": summed(limits, "memory", 1),
    }


def _shape(requests: ResourceList) -> MemberShape:
    # Round up: a member asking for 0.5m still needs a whole millicore of room on a node.
    cpu = quantity_value(requests.cpu) * 1000
    memory = quantity_value(requests.memory)
    return MemberShape(int(-(-cpu // 1)), int(-(-memory // 1)))


@dataclass(frozen=True)
class Reservation:
    """Members promised to a cluster by some placement but not yet counted in its snapshot."""

    cluster: str
    members: int
    shape: MemberShape
    owner: str = ""
    namespace: str = ""  # the owner's: its members count against that namespace's quotas once they run


@dataclass(frozen=True)
class PlacementRequest:
    """Everything one decision depends on, frozen.

    ``reservations`` holds every in-flight promise, this instance's own included: the
    members of ``current`` are counted as held by their clusters, so an own reservation
    (members placed but not yet visible) must be deducted like any other.
    """

    generation: int
    spec: MultiCloudMongoDBSpec
    clusters: tuple[ClusterSnapshot, ...]
    now: datetime
    failure_threshold: timedelta = DEFAULT_FAILURE_THRESHOLD
    current: Placement | None = None
    reservations: tuple[Reservation, ...] = field(default=())
    namespace: str = ""  # the instance's: a member cluster's quotas in that namespace bound its members there

    @property
    def shape(self) -> MemberShape:
        return MemberShape.of(self.spec)
