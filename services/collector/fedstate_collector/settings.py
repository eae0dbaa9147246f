"""Collector settings: the member-cluster settings plus the labels this cluster is known by."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from pydantic_settings import NoDecode

from fedstate.models.labels import check_labels, parse_labels
from fedstate.settings import MemberClusterSettings


def _labels(value: Any) -> Any:
    """``region=eu,provider=aws`` from the environment or a flag; a mapping as it is."""
    return parse_labels(value) if isinstance(value, str) else check_labels(value)


class CollectorSettings(MemberClusterSettings):
    cluster_labels: Annotated[dict[str, str], NoDecode, BeforeValidator(_labels)] = Field(
        default_factory=dict,
        description="labels of this cluster, as region=eu,provider=aws; they win over discovered ones",
    )
    resync_seconds: float = Field(
        default=60.0,
        gt=0,
        description="how often to look again at what is not watched (ClusterProperty, StorageClass, Service); "
        "the snapshot is published only if something changed",
    )
