"""The objects of FedState: user kinds, what flows between services, and their validation errors."""

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
