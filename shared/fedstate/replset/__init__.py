"""Pure replica-set decisions shared by the orchestrator (federation mode) and the agent (single-cluster
mode): members and their ordinals, the config to aim for, the next safe reconfig step, the next member
to restart, MongoDB versions, and one pass of all of it together (``lifecycle.plan``).

Nothing here does I/O; every function is a pure function of its arguments, tested with properties.
"""

from .configsteps import (
    HEALTHY,
    ConfigStep,
    WantedMember,
    desired_config,
    next_config,
    plan_config_step,
    remaining_changes,
)
from .lifecycle import ClusterPlan, Lifecycle, LifecycleInput, plan
from .members import assign_arbiter, assign_members, member_name
from .rolling import RollMember, RollStep, next_restart
from .versions import (
    ImageUnsupported,
    TransitionRefused,
    check_image_supported,
    check_image_transition,
    feature_compatibility_version,
    mongo_version,
)

__all__ = [
    "HEALTHY",
    "ClusterPlan",
    "ConfigStep",
    "ImageUnsupported",
    "Lifecycle",
    "LifecycleInput",
    "RollMember",
    "RollStep",
    "TransitionRefused",
    "WantedMember",
    "assign_arbiter",
    "assign_members",
    "check_image_supported",
    "check_image_transition",
    "desired_config",
    "feature_compatibility_version",
    "member_name",
    "mongo_version",
    "next_config",
    "next_restart",
    "plan",
    "plan_config_step",
    "remaining_changes",
]
