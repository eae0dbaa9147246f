"""Local state of a stack started by ``fedstate up``: the ``.fedstate/`` directory and its ``state.json``.

``state.json`` records every process started (pid, log file) and the URLs the other
commands need (gateway, NATS, simulator control API), so any later ``fedstate`` in the
same working directory finds the stack, and ``fedstate down`` stops exactly what was started.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

STATE_DIR = ".fedstate"
DEFAULT_API_PORT = 8080


@dataclass(frozen=True)
class StackPaths:
    root: Path

    @classmethod
    def here(cls) -> StackPaths:
        return cls(Path.cwd() / STATE_DIR)

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def spans(self) -> Path:
        return self.root / "spans"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def nats_store(self) -> Path:
        return self.root / "jetstream"

    @property
    def sim_ready(self) -> Path:
        return self.root / "sim-ready.json"

    @property
    def prometheus_targets(self) -> Path:
        """Every service's /metrics address, in Prometheus' ``file_sd_configs`` format."""
        return self.root / "prometheus-targets.json"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"


class Tier(IntEnum):
    """Stop order, highest first: a tier is stopped only once every tier that depends on it is gone.

    The gateway asks the federation's intake; the federation and the scheduler drive the agents
    through NATS; agents and collectors talk to the simulated clusters; everyone talks to NATS.
    """

    BUS = 0
    SIMULATOR = 1
    COLLECTOR = 2
    AGENT = 3
    SCHEDULER = 4
    FEDERATION = 5
    GATEWAY = 6


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


class StackState(StateModel):
    api_url: str
    nats_url: str
    sim_control_url: str = ""
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


def forget_state(paths: StackPaths) -> None:
    """The stack is gone: no later command should find it, nor Prometheus its targets."""
    paths.state_file.unlink(missing_ok=True)
    paths.prometheus_targets.unlink(missing_ok=True)


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


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name, or None off Linux or when gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw.rpartition(")")[2].split()


def start_ticks(pid: int) -> int | None:
    fields = _proc_stat(pid)
    return int(fields[19]) if fields and len(fields) > 19 else None


def pid_alive(pid: int, ticks: int | None = None) -> bool:
    """The process exists, is not a zombie, and (when known) started when we recorded it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = _proc_stat(pid)
    if fields is None:
        return True
    if fields[0] in ("Z", "X"):
        return False
    return ticks is None or start_ticks(pid) == ticks
