"""The scheduler's plugins, run in the order listed (cheap cluster-wide checks before per-node work)."""

from __future__ import annotations

from ..framework import FilterPlugin, ScorePlugin
from .cluster_ready import ClusterReady
from .free_capacity import FreeCapacity
from .locality import Locality
from .member_fits import MemberFits
from .namespace_quota import NamespaceQuota
from .node_affinity import NodeAffinity
from .node_preference import NodePreference
from .node_ready import NodeReady
from .node_select import NodeSelect
from .storage_class import StorageClass
from .taint_toleration import TaintToleration

# Label selection first: it usually leaves the fewest nodes for the checks after it.
FILTERS: tuple[FilterPlugin, ...] = (
    ClusterReady(),
    StorageClass(),
    NamespaceQuota(),
    NodeSelect(),
    NodeAffinity(),
    TaintToleration(),
    NodeReady(),
    MemberFits(),
)

SCORERS: tuple[ScorePlugin, ...] = (FreeCapacity(), Locality(), NodePreference())

__all__ = ["FILTERS", "SCORERS"]
