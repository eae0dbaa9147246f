"""The member-cluster simulator as the CLI sees it: how to launch it, its ready file, its control API.

The CLI never imports the simulator; it runs ``python -m fedstate_sim`` and talks HTTP to it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import CliError
from .http import Response, TimedOut, Unreachable, request
from .processes import Launch
from .state import StackPaths, Tier

if TYPE_CHECKING:
    from .records import ClusterRecord

SIM_MODULE = "fedstate_sim"


@dataclass(frozen=True)
class SimOptions:
    clusters: int = 3
    config: Path | None = None
    pod_startup_seconds: float | None = None
    election_timeout_millis: int | None = None
    vip_octet: int | None = None  # None: the simulator claims the first octet no other simulator uses
    # Clusters without members whose API serves the custom resources the crd-bridge watches.
    control_planes: tuple[str, ...] = ("control-plane",)
    # Child processes running the simulated mongods: one process may hold only so many open files.
    member_processes: int = 1


def launch(options: SimOptions, paths: StackPaths) -> Launch:
    """``python -m fedstate_sim``: ``--config FILE`` or ``--clusters N``, timing flags only when given."""
    source = ["--config", str(options.config)] if options.config else ["--clusters", str(options.clusters)]
    timing = {
        "--pod-startup-seconds": options.pod_startup_seconds,
        "--election-timeout-millis": options.election_timeout_millis,
        "--vip-octet": options.vip_octet,
        "--member-processes": options.member_processes if options.member_processes > 1 else None,
    }
    args = [
        *source,
        *(part for flag, value in timing.items() if value is not None for part in (flag, str(value))),
        *(part for name in options.control_planes for part in ("--control-plane", name)),
        "--kubeconfig",
        str(paths.kubeconfig),
        "--control-port",
        "0",
        "--ready-file",
        str(paths.sim_ready),
    ]
    return Launch.module("simulator", SIM_MODULE, *args, tier=Tier.SIMULATOR)


@dataclass(frozen=True)
class SimReady:
    control_url: str
    clusters: list[ClusterRecord]
    control_planes: dict[str, str]  # name → API URL


def read_ready(path: Path) -> SimReady:
    """The simulator's ready file: ``{"controlUrl": ..., "clusters": {name: apiUrl}, ...}``."""
    data: dict[str, Any] = json.loads(path.read_text())
    from .records import ClusterRecord  # pydantic loads only when a command needs the stack's records

    clusters = [ClusterRecord(name=name, api_url=url) for name, url in (data.get("clusters") or {}).items()]
    return SimReady(str(data["controlUrl"]).rstrip("/"), clusters, dict(data.get("controlPlanes") or {}))


def _error_text(response: Response) -> str:
    try:
        return str(response.json()["error"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}: {response.text.strip()[:500]}"


class SimControl:
    """The simulator's fault-injection API."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            response = request(self.base_url, "POST", path, body=body, timeout=30)
        except (Unreachable, TimedOut):
            raise CliError(
                f"cannot connect to the simulator's control API at {self.base_url} (connection refused)"
            ) from None
        if response.is_error:
            raise CliError(f"simulator: {_error_text(response)}")
        return response.json() if response.content else None
