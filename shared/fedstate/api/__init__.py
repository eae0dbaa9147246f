"""The gateway's REST surface as both ends see it: resource paths and request/response bodies.

The names below load on first use (``fedstate.lazy``): the CLI reads answers through the views of
``fedstate.api.views`` and builds a wire model (and imports pydantic) only to read an error or a version.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fedstate import lazy

if TYPE_CHECKING:
    from .dataplane import DataPlaneList, DataPlaneView
    from .resources import (
        CONFIGMAP,
        MONGODB,
        MULTICLOUD_MONGODB,
        OUTCOME_HEADER,
        RESOURCES,
        Resource,
        by_kind,
        lookup,
    )
    from .watch import Watch, WatchEvent, WatchExpired, WatchRefused
    from .wire import (
        ClusterCapacity,
        ClusterList,
        ClusterView,
        EventList,
        Health,
        KubeList,
        KubeObject,
        KubeStatus,
        StatusCause,
        StatusDetails,
        VersionInfo,
    )

__getattr__ = lazy.exports(
    __name__,
    {
        "dataplane": ("DataPlaneList", "DataPlaneView"),
        "resources": (
            "CONFIGMAP",
            "MONGODB",
            "MULTICLOUD_MONGODB",
            "OUTCOME_HEADER",
            "RESOURCES",
            "Resource",
            "by_kind",
            "lookup",
        ),
        "wire": (
            "ClusterCapacity",
            "ClusterList",
            "ClusterView",
            "EventList",
            "Health",
            "KubeList",
            "KubeObject",
            "KubeStatus",
            "StatusCause",
            "StatusDetails",
            "VersionInfo",
        ),
        "watch": ("Watch", "WatchEvent", "WatchExpired", "WatchRefused"),
    },
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
    "VersionInfo",
    "Watch",
    "WatchEvent",
    "WatchExpired",
    "WatchRefused",
    "by_kind",
    "lookup",
]
