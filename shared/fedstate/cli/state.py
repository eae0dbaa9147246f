"""Local state of a stack started by ``fedstate up``: the ``.fedstate/`` directory and its ``state.json``.

``state.json`` records every process started (pid, log file) and the URLs the other
commands need (gateway, NATS, simulator control API), so any later ``fedstate`` in the
same working directory finds the stack, and ``fedstate down`` stops exactly what was started.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from pathlib import Path

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

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"


class Tier(IntEnum):
    """Stop order: services first (they drain to NATS), then the simulator, then NATS."""

    BUS = 0
    SIMULATOR = 1
    SERVICE = 2


class StateModel(BaseModel):
    """Built on first use, so a command that never reads ``state.json`` (``--help``) pays nothing for it."""

    model_config = ConfigDict(defer_build=True)


class ProcessRecord(StateModel):
    name: str
    pid: int
    tier: Tier = Tier.SERVICE
    # Start time in clock ticks since boot (/proc/<pid>/stat), so a recycled pid is never mistaken for ours.
    start_ticks: int | None = None
    log: str

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
    paths.root.mkdir(parents=True, exist_ok=True)
    temporary = paths.state_file.with_suffix(".tmp")
    temporary.write_text(state.model_dump_json(indent=2))
    temporary.replace(paths.state_file)


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
