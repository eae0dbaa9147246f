"""Local state of a stack started by ``fedstate up``: the ``.fedstate/`` directory and its ``state.json``.

``state.json`` records every process started (pid, log file) and the URLs the other
commands need (gateway, NATS, simulator control API), so any later ``fedstate`` in the
same working directory finds the stack, and ``fedstate down`` stops exactly what was started.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

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
    def member_kubeconfig(self) -> Path:
        """Each cluster's context as its member services see it: the member ServiceAccount's token."""
        return self.root / "member-kubeconfig"

    @property
    def bridge_kubeconfig(self) -> Path:
        """The control-plane cluster's context as the crd-bridge sees it: its ServiceAccount's token."""
        return self.root / "crd-bridge-kubeconfig"

    @property
    def nats_store(self) -> Path:
        return self.root / "jetstream"

    @property
    def nats_credentials(self) -> Path:
        """The bus users' NKey seeds (``<user>.nk``, mode 0600): each service reads its own, the CLI the admin's."""
        return self.root / "nats-credentials"

    @property
    def nats_config(self) -> Path:
        """The nats-server's users and their permissions (public keys only); with leaf nodes, the hub's
        configuration, which includes them from ``nats_users``."""
        return self.root / "nats-server.conf"

    @property
    def nats_users(self) -> Path:
        """With leaf nodes (``fedstate up --leaf-nodes``): the hub's users, apart from its configuration."""
        return self.root / "nats-users.conf"

    def leaf_node(self, cluster: str) -> Path:
        """The directory of a member cluster's leaf node: its configuration (with its seed) and its users."""
        return self.root / "leaf-nodes" / cluster

    @property
    def federation_key(self) -> Path:
        """The federation's sealing key ring (mode 0600), made by the admin bootstrap; only the federation reads it."""
        return self.root / "sealing-keys" / "federation.key"

    @property
    def federation_public_keys(self) -> Path:
        """The federation's public keys, beside its ring: what every agent pins."""
        return self.federation_key.with_suffix(".pub")

    @property
    def cluster_keys(self) -> Path:
        """Each member cluster's sealing key ring, ``<cluster>.key``, made by its agent at first start."""
        return self.root / "sealing-keys" / "clusters"

    @property
    def api_tokens(self) -> Path:
        """The gateway's API tokens, hashed (``fedstate token create`` adds to it; mode 0600)."""
        return self.root / "api-tokens.json"

    @property
    def token(self) -> Path:
        """The admin token ``fedstate up`` made for the local user (mode 0600): the CLI sends it."""
        return self.root / "token"

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
    SCRAPER = 7  # Prometheus (``--with-prometheus``): it only reads the others


def forget_state(paths: StackPaths) -> None:
    """The stack is gone: no later command should find it, nor Prometheus its targets."""
    paths.state_file.unlink(missing_ok=True)
    paths.prometheus_targets.unlink(missing_ok=True)


def recorded_api_url(paths: StackPaths) -> str | None:
    """The gateway URL of the stack at ``paths``, read without the pydantic records (``fedstate.cli.records``):
    `get` needs nothing else, and pydantic would cost a tenth of a second of its start-up."""
    try:
        recorded = json.loads(paths.state_file.read_text())
    except (OSError, ValueError):
        return None
    url = recorded.get("api_url") if isinstance(recorded, dict) else None
    return url if isinstance(url, str) else None


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
