"""Simulator configuration: which clusters exist, their nodes, and timing knobs.

The YAML format is documented in docs/simulator.md. ``default_config(n)`` builds
N clusters in which the seed MultiCloudMongoDB sample fits.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SIMULATOR_BANNER = "fedstate simulator (not a real Kubernetes API server or mongod)"
# Cluster labels become ClusterProperty objects: a name that is also a label key (a lowercase DNS
# subdomain of at most 63 characters, so no '/'), a value that is also a label value.
_PROPERTY_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
# The default layout: two clusters per region, providers in turn; no two of the first six look alike.
DEFAULT_REGIONS = ("eu-west", "us-east", "ap-south")
DEFAULT_PROVIDERS = ("aws", "gcp", "azure")


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class Taint(_Model):
    key: str
    value: str = ""
    effect: str = "NoSchedule"


class NodeGroup(_Model):
    """``count`` identical nodes."""

    count: Annotated[int, Field(ge=1, le=10_000)] = 1
    cpu: str = "8"
    memory: str = "32Gi"
    pods: int = 110
    labels: dict[str, str] = Field(default_factory=dict)
    taints: list[Taint] = Field(default_factory=list)


class ClusterConfig(_Model):
    name: Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)]
    region: str = "region-1"
    zone: str = "zone-1"
    provider: str = "sim"
    vip: str | None = None
    storage_classes: list[str] = Field(
        default_factory=lambda: ["standard", "managed-nfs-storage"], alias="storageClasses"
    )
    default_storage_class: str | None = Field(default=None, alias="defaultStorageClass")
    nodes: list[NodeGroup] = Field(default_factory=lambda: [NodeGroup(count=3, labels={"deploy": "mongo"})])
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("labels")
    @classmethod
    def _labels_are_cluster_properties(cls, labels: dict[str, str]) -> dict[str, str]:
        for key, value in labels.items():
            if len(key) > 63 or not _PROPERTY_NAME.match(key):
                raise ValueError(
                    f"label key {key!r}: cluster labels are ClusterProperty names, lowercase DNS subdomains of "
                    "at most 63 characters without '/' (region and zone are set with region: and zone:)"
                )
            if len(value) > 63 or not _LABEL_VALUE.match(value):
                raise ValueError(f"label {key}={value!r}: a value is 1-63 letters, digits, '-', '_' or '.'")
        return labels

    @property
    def properties(self) -> dict[str, str]:
        """The ClusterProperty objects the cluster starts with: its provider, then its labels."""
        return {"provider": self.provider, **self.labels}

    @property
    def effective_default_storage_class(self) -> str | None:
        if self.default_storage_class is not None:
            return self.default_storage_class
        return self.storage_classes[0] if self.storage_classes else None


class SimSettings(_Model):
    pod_startup_seconds: Annotated[float, Field(ge=0)] = Field(default=0.0, alias="podStartupSeconds")
    election_timeout_millis: Annotated[int, Field(ge=50)] = Field(default=10_000, alias="electionTimeoutMillis")
    heartbeat_interval_millis: Annotated[int, Field(ge=10)] = Field(default=2_000, alias="heartbeatIntervalMillis")
    replication_lag_millis: Annotated[int, Field(ge=0)] = Field(default=10, alias="replicationLagMillis")
    # mongod's storage.journal.commitIntervalMs (default 100, 1-500 in mongod): how often the journal is flushed
    # when no write asks for it. Longer here only for tests that need an unflushed write to stay unflushed.
    journal_commit_interval_millis: Annotated[int, Field(ge=1)] = Field(
        default=100, alias="journalCommitIntervalMillis"
    )
    # Second octet of the loopback VIPs (127.<vipOctet>.<k>.1), so two simulators can share a machine.
    vip_octet: Annotated[int, Field(ge=0, le=255)] = Field(default=0, alias="vipOctet")
    watch_history: Annotated[int, Field(ge=10)] = Field(default=5_000, alias="watchHistory")

    @property
    def shutdown_timeout_seconds(self) -> float:
        """How long a primary shutting down on SIGTERM waits for a secondary to catch up: mongod's
        ``shutdownTimeoutMillisForSignaledShutdown`` (15 s) in the time scale of the election timeout (10 s in mongod),
        so a simulator run with shorter elections shuts down as much faster."""
        return 1.5 * self.election_timeout_millis / 1000

    @model_validator(mode="after")
    def _heartbeats_fit_the_election_timeout(self) -> SimSettings:
        """A short election timeout with the default 2 s heartbeat would mark healthy peers unreachable
        between heartbeats; unless set explicitly, heartbeats then come four times per election timeout."""
        if "heartbeat_interval_millis" not in self.model_fields_set:
            self.heartbeat_interval_millis = min(
                self.heartbeat_interval_millis, max(10, self.election_timeout_millis // 4)
            )
        return self


class SimConfig(_Model):
    clusters: list[ClusterConfig]
    # Clusters that run no members: a control-plane cluster serving the custom resources the crd-bridge watches.
    # They are in the kubeconfig, and in the ready file under ``controlPlanes``, never among the members.
    control_planes: list[ClusterConfig] = Field(default_factory=list, alias="controlPlanes")
    settings: SimSettings = Field(default_factory=SimSettings)

    @model_validator(mode="after")
    def _assign_vips(self) -> SimConfig:
        every = [*self.clusters, *self.control_planes]
        names = [c.name for c in every]
        if len(set(names)) != len(names):
            raise ValueError("cluster names must be unique")
        for index, cluster in enumerate(every, start=1):
            if cluster.vip is None:
                cluster.vip = vip_for(index, self.settings.vip_octet)
        vips = [c.vip for c in every]
        if len(set(vips)) != len(vips):
            raise ValueError("cluster VIPs must be unique")
        return self


def vip_for(index: int, octet: int = 0) -> str:
    """Loopback VIP of the index-th cluster (1-based): 127.<octet>.<k>.1 for k ≤ 254, then .2, .3, ..."""
    if index < 1 or index > 254 * 254:
        raise ValueError(f"cluster index {index} out of range")
    round_, slot = divmod(index - 1, 254)
    return f"127.{octet}.{slot + 1}.{round_ + 1}"


def default_cluster(k: int) -> ClusterConfig:
    """``member-k`` in zone ``zone-k``: regions eu-west, eu-west, us-east, us-east, ap-south, ...;
    providers aws, gcp, azure in turn; three 8 CPU / 32Gi nodes labelled deploy=mongo."""
    region = DEFAULT_REGIONS[(k - 1) // 2 % len(DEFAULT_REGIONS)]
    provider = DEFAULT_PROVIDERS[(k - 1) % len(DEFAULT_PROVIDERS)]
    return ClusterConfig(name=f"member-{k}", region=region, zone=f"zone-{k}", provider=provider)


def default_config(clusters: int, settings: SimSettings | None = None) -> SimConfig:
    """N clusters ``member-1..member-N`` (``default_cluster``), in which the seed sample fits."""
    return SimConfig(clusters=[default_cluster(k) for k in range(1, clusters + 1)], settings=settings or SimSettings())


def load_config(path: Path) -> SimConfig:
    return SimConfig.model_validate(yaml.safe_load(path.read_text()) or {})
