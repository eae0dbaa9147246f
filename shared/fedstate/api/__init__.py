"""The gateway's REST surface as both ends see it: resource paths and request/response bodies."""

from .resources import CONFIGMAP, MONGODB, MULTICLOUD_MONGODB, RESOURCES, Resource, by_kind, lookup
from .wire import (
    OUTCOME_HEADER,
    ClusterCapacity,
    ClusterList,
    ClusterView,
    DataPlaneList,
    DataPlaneView,
    EventList,
    Health,
    KubeList,
    KubeObject,
    KubeStatus,
    StatusCause,
    StatusDetails,
)

__all__ = [
    "CONFIGMAP",
    "MONGODB",
    "MULTICLOUD_MONGODB",
    "OUTCOME_HEADER",
    "RESOURCES",
    "ClusterCapacity",
    "ClusterList",
    "ClusterView",
    "DataPlaneList",
    "DataPlaneView",
    "EventList",
    "Health",
    "KubeList",
    "KubeObject",
    "KubeStatus",
    "Resource",
    "StatusCause",
    "StatusDetails",
    "by_kind",
    "lookup",
]
