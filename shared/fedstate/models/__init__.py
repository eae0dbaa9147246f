"""The objects of FedState: user kinds, what flows between services, and their validation errors.

The names below load on first use (``fedstate.lazy``): a reader of one module (the CLI reads
``fedstate.models.base``) does not build every model of the package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fedstate import lazy

if TYPE_CHECKING:
    from .base import Condition, ObjectMeta, ResourceList, ResourceRequirements, WireModel
    from .cluster import ClusterHealth, ClusterSnapshot, NodeResources
    from .dataplane import DataPlaneSpec, DataPlaneStatus, MemberObservation
    from .errors import FieldError, field_errors
    from .mongodb import MongoDB, MongoDBSpec, MongoDBStatus
    from .multicloud import (
        InstanceState,
        MultiCloudMongoDB,
        MultiCloudMongoDBSpec,
        MultiCloudMongoDBStatus,
        SchedulerMode,
    )
    from .placement import ClusterAssignment, ClusterVerdict, Placement
    from .replicaset import RsConfig, RsMember

__getattr__ = lazy.exports(
    __name__,
    {
        "base": ("Condition", "ObjectMeta", "ResourceList", "ResourceRequirements", "WireModel"),
        "cluster": ("ClusterHealth", "ClusterSnapshot", "NodeResources"),
        "dataplane": ("DataPlaneSpec", "DataPlaneStatus", "MemberObservation"),
        "errors": ("FieldError", "field_errors"),
        "mongodb": ("MongoDB", "MongoDBSpec", "MongoDBStatus"),
        "multicloud": (
            "InstanceState",
            "MultiCloudMongoDB",
            "MultiCloudMongoDBSpec",
            "MultiCloudMongoDBStatus",
            "SchedulerMode",
        ),
        "placement": ("ClusterAssignment", "ClusterVerdict", "Placement"),
        "replicaset": ("RsConfig", "RsMember"),
    },
)

__all__ = [
    "ClusterAssignment",
    "ClusterHealth",
    "ClusterSnapshot",
    "ClusterVerdict",
    "Condition",
    "DataPlaneSpec",
    "DataPlaneStatus",
    "FieldError",
    "InstanceState",
    "MemberObservation",
    "MongoDB",
    "MongoDBSpec",
    "MongoDBStatus",
    "MultiCloudMongoDB",
    "MultiCloudMongoDBSpec",
    "MultiCloudMongoDBStatus",
    "NodeResources",
    "ObjectMeta",
    "Placement",
    "ResourceList",
    "ResourceRequirements",
    "RsConfig",
    "RsMember",
    "SchedulerMode",
    "WireModel",
    "field_errors",
]
