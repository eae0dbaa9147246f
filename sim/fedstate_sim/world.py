"""The simulated world: every member cluster of a ``SimConfig``, the MongoDB member host they
share, fault injection, a kubeconfig for clients, and (optionally) the control API.

    async with World(default_config(3)) as world:
        world.write_kubeconfig(path)
        await world.fail_cluster("member-2")

Blocking test code uses ``World.run_in_thread(config)`` instead (see ``threaded.py``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import yaml

from fedstate_sim.config import SIMULATOR_BANNER, SimConfig, SimSettings
from fedstate_sim.kube.cluster import SimCluster
from fedstate_sim.kube.tokens import ADMIN_TOKEN
from fedstate_sim.mongo.api import MemberHost, MemberLaunch, ShellRequest, ShellRun

if TYPE_CHECKING:
    from fedstate_sim.control import ControlApi
    from fedstate_sim.threaded import ThreadedWorld

log = logging.getLogger(__name__)
USER = "fedstate-sim"


class NullMemberHost:
    """Used until the MongoDB fabric exists: members are only logged."""

    async def start(self) -> None:
        """Nothing to prepare."""

    async def start_member(self, launch: MemberLaunch) -> None:
        log.info("fedstate simulator: (no mongo fabric) would start %s on %s:%s", launch.pod, launch.host, launch.port)

    async def stop_member(self, host: str, port: int, clean: bool = False) -> None:
        log.info("fedstate simulator: (no mongo fabric) would stop %s:%s", host, port)

    def forget_data(self, data_key: str) -> None:
        """Nothing stored."""

    def set_cluster_down(self, cluster: str, down: bool) -> None:
        """Nothing running."""

    def partition(self, side_a: set[str], side_b: set[str]) -> None:
        """Nothing to cut."""

    def heal(self) -> None:
        """Nothing to heal."""

    async def run_shell(self, request: ShellRequest) -> ShellRun:
        return ShellRun(start_error="fedstate simulator: no mongo fabric, so no mongo shell")

    async def access_refusals(self) -> list[dict[str, Any]]:
        return []

    async def close(self) -> None:
        """Nothing to stop."""


def default_host(settings: SimSettings) -> MemberHost:
    try:
        from fedstate_sim.mongo.fabric import MongoFabric  # optional: written separately
    except ImportError:
        log.warning(
            "fedstate simulator: fedstate_sim.mongo.fabric is not available; mongod members are not "
            "simulated (no-op member host)"
        )
        return NullMemberHost()
    return MongoFabric(settings)  # type: ignore[no-any-return]


class World:
    def __init__(self, config: SimConfig, host: MemberHost | None = None, control_port: int | None = None) -> None:
        self.config = config
        self.host: MemberHost = host if host is not None else default_host(config.settings)
        self.clusters: dict[str, SimCluster] = {
            c.name: SimCluster(c, config.settings, self.host) for c in config.clusters
        }
        self.control_planes: dict[str, SimCluster] = {
            c.name: SimCluster(c, config.settings, self.host) for c in config.control_planes
        }
        self._control_port = control_port
        self.control: ControlApi | None = None

    # ---- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        await self.host.start()
        for cluster in (*self.clusters.values(), *self.control_planes.values()):
            await cluster.start()
        if self._control_port is not None:
            from fedstate_sim.control import ControlApi  # late: avoids an import cycle

            self.control = ControlApi(self)
            await self.control.start(self._control_port)
        log.info("fedstate simulator: %d clusters up (%s)", len(self.clusters), SIMULATOR_BANNER)

    async def close(self) -> None:
        if self.control is not None:
            await self.control.close()
        # Members first, all at once: each cluster would otherwise stop its own one by one (a round trip each to
        # a member process), which for thousands of members outlasted `fedstate down`'s patience.
        await self.host.close()
        for cluster in (*self.clusters.values(), *self.control_planes.values()):
            await cluster.close()

    async def __aenter__(self) -> World:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @staticmethod
    def run_in_thread(
        config: SimConfig, host: MemberHost | None = None, control_port: int | None = None
    ) -> ThreadedWorld:
        from fedstate_sim.threaded import ThreadedWorld  # late: avoids an import cycle

        return ThreadedWorld(config, host, control_port)

    # ---- lookups --------------------------------------------------------------------------
    def cluster(self, name: str) -> SimCluster:
        try:
            return self.clusters[name]
        except KeyError:
            raise KeyError(f"no simulated cluster named {name!r} (fedstate simulator)") from None

    @property
    def control_port(self) -> int | None:
        return self.control.port if self.control is not None else None

    def api_urls(self) -> dict[str, str]:
        return {name: cluster.api_url for name, cluster in self.clusters.items()}

    def control_plane_urls(self) -> dict[str, str]:
        return {name: cluster.api_url for name, cluster in self.control_planes.items()}

    def write_kubeconfig(self, path: Path | str) -> Path:
        """One context per cluster (control-plane clusters last), named after it; the first member cluster is the
        current context."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        every = {**self.api_urls(), **self.control_plane_urls()}
        target.write_text(yaml.safe_dump(kubeconfig(every), sort_keys=False))
        return target

    # ---- fault injection --------------------------------------------------------------------
    async def fail_cluster(self, name: str) -> None:
        await self.cluster(name).fail()

    async def recover_cluster(self, name: str) -> None:
        await self.cluster(name).recover()

    async def partition(self, side_a: list[str] | set[str], side_b: list[str] | set[str]) -> None:
        for name in [*side_a, *side_b]:
            self.cluster(name)
        self.host.partition(set(side_a), set(side_b))
        log.warning("fedstate simulator: partitioned %s from %s", sorted(side_a), sorted(side_b))

    async def heal(self) -> None:
        self.host.heal()
        log.warning("fedstate simulator: partitions healed")

    async def kill_pod(self, cluster: str, namespace: str, pod: str) -> None:
        self.cluster(cluster).kill_pod(namespace, pod)
        log.warning("fedstate simulator: killed pod %s/%s in %s", namespace, pod, cluster)


def kubeconfig(api_urls: dict[str, str]) -> dict[str, object]:
    names = list(api_urls)
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": n, "cluster": {"server": api_urls[n]}} for n in names],
        "users": [{"name": USER, "user": {"token": ADMIN_TOKEN}}],  # cluster-admin (system:masters)
        "contexts": [{"name": n, "context": {"cluster": n, "user": USER, "namespace": "default"}} for n in names],
        "current-context": names[0] if names else "",
    }
