"""The frozen input of one placement decision, and the shape of one member in exact integers.

``decide`` is a pure function of a ``PlacementRequest``: the spec (and its generation),
the cluster snapshots, the clock reading, the current Placement and the capacity already
promised to placements whose members the collectors cannot see yet.
"""

from __future__ import annotations

from collections.abc import Mapping
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


def quota_charge(spec: MultiCloudMongoDBSpec, defaults: Mapping[str, int] | None = None) -> dict[str, int | None]:
    """What one member uses of a namespace's ResourceQuotas, by quota resource (``NamespaceQuota``'s names): its
    pod and its claim, and the requests and limits of its containers summed. A container's unset value is what the
    namespace's LimitRange fills in (``defaults``, by the same names; a request left unset but a limit set is the
    limit, as kube's pod defaulting makes it first). None where a container still has none: kube's quota admission
    refuses such a pod outright under a quota that counts it ("must specify")."""
    containers = [spec.resource]
    if spec.export.enable:
        containers.append(spec.export.resource or ResourceRequirements())
    filled = defaults or {}

    def summed(side: str, resource: str, scale: int) -> int | None:
        total = 0
        for container in containers:
            value = getattr(
                (container.effective_requests() if side == "requests" else container.limits), resource, None
            )
            if value is not None:
                total += int(-(-quantity_value(value) * scale // 1))
            elif (default := filled.get(f"{side}.{resource}")) is not None:
                total += default
            else:
                return None
        return total

    return {
        "pods": 1,
        "persistentvolumeclaims": 1,
        "requests.storage": int(-(-quantity_value(spec.storage.storage_size) // 1)),
        "requests.cpu": summed("requests", "cpu", 1000),
        "requests.memory": summed("requests", "memory", 1),
        "limits.cpu": summed("limits", "cpu", 1000),
        "limits.memory": summed("limits", "memory", 1),
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
    primary_cluster: str | None = None  # where the set's PRIMARY is, when a scale-down may empty a cluster

    @property
    def shape(self) -> MemberShape:
        return MemberShape.of(self.spec)
