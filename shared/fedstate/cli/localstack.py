"""Drive a whole local stack as a user does — ``fedstate up --detach`` in a scratch directory.

Used by the end-to-end tests and the benchmarks; it goes through the CLI and the gateway only.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fedstate.api.resources import MULTICLOUD_MONGODB
from fedstate.bus.access import BusAccess
from fedstate.bus.identities import Component, Identity
from fedstate.cli.client import Gateway, stack_gateway
from fedstate.cli.context import HOME_ENV
from fedstate.cli.processes import spawn
from fedstate.cli.records import StackState, load_state, save_state
from fedstate.cli.stack import (
    CONTROL_PLANE,
    CRD_BRIDGE,
    GATEWAY,
    NATS_SERVER,
    bridge_env,
    gateway_env,
    launch_nats,
    member_env,
    member_services,
    recorded_peers,
    service_launch,
)
from fedstate.cli.state import StackPaths
from fedstate.natsserver import ClusterPeer, free_port, jetstream_report

FEDSTATE = [sys.executable, "-m", "fedstate.cli"]


class LocalStack:
    def __init__(
        self,
        workdir: Path,
        clusters: int = 3,
        election_timeout_millis: int = 1000,
        clusters_per_process: int = 1,
        replicas: int = 1,
        nats_cluster: int = 1,
        sim_member_processes: int = 1,
        leaf_nodes: bool = False,
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.clusters = clusters
        self.clusters_per_process = clusters_per_process
        self.replicas = replicas
        self.election_timeout_millis = election_timeout_millis
        self.nats_cluster = nats_cluster
        self.sim_member_processes = sim_member_processes
        self.leaf_nodes = leaf_nodes
        self.paths = StackPaths(workdir / ".fedstate")
        self.gateway: Gateway

    def cli(self, *args: str, check: bool = True, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        # The stack becomes the current context of this work directory's own config home, not the user's.
        env = {**os.environ, HOME_ENV: str(self.workdir / "config")}
        result = subprocess.run(
            [*FEDSTATE, *args], cwd=self.workdir, capture_output=True, text=True, timeout=timeout, env=env
        )
        if check and result.returncode != 0:
            raise AssertionError(f"fedstate {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def up(self) -> None:
        self.cli(
            "up",
            "--detach",
            "--clusters",
            str(self.clusters),
            "--api-port",
            str(free_port()),
            "--pod-startup-seconds",
            "0",
            "--election-timeout-millis",
            str(self.election_timeout_millis),
            "--clusters-per-process",
            str(self.clusters_per_process),
            "--replicas",
            str(self.replicas),
            "--nats-cluster",
            str(self.nats_cluster),
            "--sim-member-processes",
            str(self.sim_member_processes),
            *(["--leaf-nodes"] if self.leaf_nodes else []),
        )
        state = load_state(self.paths)
        assert state is not None
        self.gateway = stack_gateway(self.paths, state.api_url)

    @property
    def nats_url(self) -> str:
        state = load_state(self.paths)
        assert state is not None
        return state.nats_url

    def admin_access(self) -> tuple[Identity, BusAccess]:
        """The admin user of this stack's NATS, for tests and benchmarks that look at the bus itself."""
        return Identity(Component.ADMIN), BusAccess(self.paths.nats_credentials)

    def nats_options(self) -> dict[str, Any]:
        """nats-py's connect options as the admin user."""
        admin, access = self.admin_access()
        return access.options(admin)

    def apply_text(self, name: str, manifest: str) -> None:
        """Write ``manifest`` to ``<name>.yaml`` in the work directory and ``fedstate apply`` it."""
        path = self.workdir / f"{name}.yaml"
        path.write_text(manifest)
        self.cli("apply", "-f", str(path))

    def down(self) -> None:
        self.cli("down", check=False, timeout=60)

    def status(self, name: str, namespace: str = "default") -> dict[str, Any]:
        obj = self.gateway.find_object(MULTICLOUD_MONGODB, namespace, name)
        return dict(obj.status or {}) if obj is not None else {}

    def wait_for_state(self, name: str, state: str, timeout: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status(name)
            if status.get("state") == state:
                return status
            time.sleep(0.2)
        raise AssertionError(f"{name} did not reach {state} in {timeout}s; last status: {self.status(name)}")

    def _restart_nats(self, state: StackState, name: str) -> None:
        peers = recorded_peers(state)
        if name in peers:
            peer, port = peers[name]
            _, record = launch_nats(self.paths, port, peer)
        else:
            single = urlsplit(state.nats_url).port
            assert single is not None
            _, record = launch_nats(self.paths, single)
        state.processes = [p if p.name != name else record for p in state.processes]
        save_state(self.paths, state)

    def nats_peers(self) -> list[ClusterPeer]:
        """The servers of this stack's NATS cluster (``nats_cluster`` > 1)."""
        state = load_state(self.paths)
        assert state is not None
        return [peer for peer, _ in recorded_peers(state).values()]

    def _jetstream_report(self, **query: str) -> dict[str, Any]:
        """``/jsz`` from the first server of the cluster that answers (the others may be down on purpose)."""
        for peer in self.nats_peers():
            with contextlib.suppress(OSError):
                return jetstream_report(peer, **query)
        raise AssertionError("no NATS server of the stack answers its monitoring port")

    def meta_leader(self) -> str:
        """The name of the server leading JetStream's meta group (streams and consumers are created through it)."""
        return str(self._jetstream_report()["meta_cluster"]["leader"])

    def stream_leader(self, stream: str) -> str:
        """The name of the server leading ``stream``'s replicas (every write to it goes through that server)."""
        report = self._jetstream_report(accounts="true", streams="true")
        for account in report.get("account_details", []):
            for detail in account.get("stream_detail") or []:
                if detail["name"] == stream:
                    return str(detail["cluster"]["leader"])
        raise AssertionError(f"stream {stream} not found in /jsz")

    def kill(self, service: str) -> None:
        """SIGKILL a service: no drain, no goodbye, as a crash would."""
        state = load_state(self.paths)
        assert state is not None
        record = next(p for p in state.processes if p.name == service)
        os.killpg(record.pid, signal.SIGKILL)

    def restart(self, service: str) -> None:
        """Start a fresh process of a service of this stack (its place in the stop order kept, its /metrics
        on a new port); ``fedstate down`` stops it too. ``nats-server`` comes back on its port, with its
        JetStream store and users; so does a server of the NATS cluster (``nats-2``), which catches up
        with the others; the gateway on its API port."""
        state = load_state(self.paths)
        assert state is not None
        if service == NATS_SERVER or service in recorded_peers(state):
            self._restart_nats(state, service)
            return
        members = {s.name: (s, c.name) for c in state.clusters for s in member_services([c.name])}
        spec = next((s for s in CONTROL_PLANE if s.name == service), None)
        extra: dict[str, str] = {}
        metrics: str | None = None
        if service == CRD_BRIDGE.name:
            spec, extra = CRD_BRIDGE, bridge_env(self.paths)
        elif service == GATEWAY.name:
            spec, metrics = GATEWAY, f"{state.api_url}/metrics"
            extra = gateway_env(self.paths, urlsplit(state.api_url).port or 0)
        elif spec is None:
            spec, cluster = members[service]
            extra = member_env(self.paths, [cluster], state)
        taken = {urlsplit(p.metrics_url).port or 0 for p in state.processes if p.metrics_url}
        launch = service_launch(state.nats_url, self.paths, spec, taken, metrics, **extra)
        _, record = spawn(launch, self.paths.log(f"{service}-restarted"))
        state.processes = [p for p in state.processes if p.name != service] + [record]
        save_state(self.paths, state)
