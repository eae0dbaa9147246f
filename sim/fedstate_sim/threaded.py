"""A ``World`` on its own event loop in a background thread, for tests with blocking clients.

with World.run_in_thread(default_config(2)) as world:
    kubernetes.config.load_kube_config(str(world.write_kubeconfig(tmp / "kubeconfig")))
    world.fail_cluster("member-1")      # blocking, thread-safe
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from fedstate_sim.config import SimConfig
from fedstate_sim.kube.cluster import SimCluster
from fedstate_sim.mongo.api import MemberHost
from fedstate_sim.world import World

T = TypeVar("T")
_TIMEOUT = 60.0


class ThreadedWorld:
    def __init__(self, config: SimConfig, host: MemberHost | None = None, control_port: int | None = None) -> None:
        self._args = (config, host, control_port)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fedstate-sim", daemon=True)
        self.world: World | None = None

    def __enter__(self) -> ThreadedWorld:
        self._thread.start()
        self.world = self.call(self._build())
        return self

    async def _build(self) -> World:
        world = World(*self._args)
        await world.start()
        return world

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self.world is not None:
                self.call(self.world.close())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=_TIMEOUT)
            self._loop.close()

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the world's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(_TIMEOUT)

    @property
    def _world(self) -> World:
        if self.world is None:
            raise RuntimeError("the simulated world is not running (fedstate simulator)")
        return self.world

    @property
    def clusters(self) -> dict[str, SimCluster]:
        return self._world.clusters

    @property
    def control_port(self) -> int | None:
        return self._world.control_port

    def api_urls(self) -> dict[str, str]:
        return self._world.api_urls()

    def write_kubeconfig(self, path: Path | str) -> Path:
        return self._world.write_kubeconfig(path)

    def fail_cluster(self, name: str) -> None:
        self.call(self._world.fail_cluster(name))

    def recover_cluster(self, name: str) -> None:
        self.call(self._world.recover_cluster(name))

    def partition(self, side_a: list[str] | set[str], side_b: list[str] | set[str]) -> None:
        self.call(self._world.partition(side_a, side_b))

    def heal(self) -> None:
        self.call(self._world.heal())

    def kill_pod(self, cluster: str, namespace: str, pod: str) -> None:
        self.call(self._world.kill_pod(cluster, namespace, pod))
