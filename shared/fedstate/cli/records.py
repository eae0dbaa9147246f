"""The records of ``state.json``: what ``fedstate up`` started and where the other commands find it."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from .state import StackPaths, Tier, pid_alive


class StateModel(BaseModel):
    """Built on first use, so a command that never reads ``state.json`` (``--help``) pays nothing for it."""

    model_config = ConfigDict(defer_build=True)


class ProcessRecord(StateModel):
    name: str
    pid: int
    tier: Tier = Tier.GATEWAY
    # Start time in clock ticks since boot (/proc/<pid>/stat), so a recycled pid is never mistaken for ours.
    start_ticks: int | None = None
    log: str
    # Where Prometheus scrapes this process (every fedstate service; not NATS, not the simulator).
    metrics_url: str | None = None

    def alive(self) -> bool:
        return pid_alive(self.pid, self.start_ticks)


class ClusterRecord(StateModel):
    name: str
    vip: str = ""
    api_url: str = ""


class NatsPeerRecord(StateModel):
    """One server of ``fedstate up --nats-cluster N``: enough to start it again as the same cluster member."""

    name: str
    port: int
    cluster_port: int
    monitor_port: int


class StackState(StateModel):
    api_url: str
    nats_url: str  # comma-separated: every server of a NATS cluster
    nats_peers: list[NatsPeerRecord] = Field(default_factory=list)  # with --nats-cluster only
    # With --leaf-nodes: each member cluster's leaf node, which its services connect to, and the hub's domain.
    leaf_node_urls: dict[str, str] = Field(default_factory=dict)
    jetstream_domain: str | None = None
    sim_control_url: str = ""
    prometheus_url: str = ""  # with ``--with-prometheus``
    kubeconfig: str = ""
    log_dir: str = ""
    started_at: datetime | None = None
    clusters: list[ClusterRecord] = Field(default_factory=list)
    processes: list[ProcessRecord] = Field(default_factory=list)

    def running(self) -> list[ProcessRecord]:
        return [p for p in self.processes if p.alive()]


def load_state(paths: StackPaths) -> StackState | None:
    if not paths.state_file.exists():
        return None
    return StackState.model_validate_json(paths.state_file.read_text())


def save_state(paths: StackPaths, state: StackState) -> None:
    """Write ``state.json`` and the Prometheus targets of the services recorded so far."""
    paths.root.mkdir(parents=True, exist_ok=True)
    _write(paths.state_file, state.model_dump_json(indent=2))
    _write(paths.prometheus_targets, json.dumps(prometheus_targets(state), indent=2))


def _write(path: Path, text: str) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text)
    temporary.replace(path)


def prometheus_targets(state: StackState) -> list[dict[str, object]]:
    """One ``file_sd`` target group per service: ``host:port`` (the path is /metrics) labelled by service."""
    groups: list[dict[str, object]] = []
    for process in state.processes:
        if process.metrics_url:
            address = urlsplit(process.metrics_url).netloc
            groups.append({"targets": [address], "labels": {"job": "fedstate", "service": process.name}})
    return groups
