"""Run a MongoFabric on a background thread with its own event loop.

For blocking callers: tests and scripts that use the synchronous pymongo client
against simulated members. Every method hops onto the fabric's loop and waits
for the result, so fault injection from the caller's thread is safe.

    with FabricThread(SimSettings(electionTimeoutMillis=400)) as sim:
        sim.start_member(MemberLaunch(...))
        sim.set_cluster_down("c1", True)
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from types import TracebackType
from typing import Any, TypeVar

from fedstate_sim.config import SimSettings
from fedstate_sim.mongo.api import MemberLaunch
from fedstate_sim.mongo.fabric import MongoFabric
from fedstate_sim.mongo.services import FabricTuning

T = TypeVar("T")


class FabricThread:
    """A MongoFabric living on its own thread; a context manager."""

    def __init__(self, settings: SimSettings, tuning: FabricTuning | None = None, timeout: float = 30.0) -> None:
        self.settings = settings
        self.tuning = tuning
        self.timeout = timeout
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="fedstate-sim-mongo", daemon=True)
        self._fabric: MongoFabric | None = None

    def __enter__(self) -> FabricThread:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    @property
    def fabric(self) -> MongoFabric:
        assert self._fabric is not None, "FabricThread is not started"
        return self._fabric

    def start(self) -> None:
        self._thread.start()
        self._fabric = self.call(lambda: MongoFabric(self.settings, self.tuning))

    def stop(self) -> None:
        if self._fabric is not None:
            self.run(self._fabric.close())
            self._fabric = None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=self.timeout)
        self.loop.close()

    def run(self, awaitable: Awaitable[T]) -> T:
        """Run a coroutine on the fabric's loop and wait for its result."""

        async def wrapper() -> T:
            return await awaitable

        return asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result(self.timeout)

    def call(self, function: Callable[[], T]) -> T:
        """Call a plain function on the fabric's loop and wait for its result."""
        result: Future[T] = Future()

        def invoke() -> None:
            try:
                result.set_result(function())
            except BaseException as error:
                result.set_exception(error)

        self.loop.call_soon_threadsafe(invoke)
        return result.result(self.timeout)

    # ---- MemberHost, blocking ----------------------------------------------------------------
    def start_member(self, launch: MemberLaunch) -> None:
        self.run(self.fabric.start_member(launch))

    def stop_member(self, host: str, port: int, clean: bool = False) -> None:
        self.run(self.fabric.stop_member(host, port, clean))

    def forget_data(self, data_key: str) -> None:
        self.call(lambda: self.fabric.forget_data(data_key))

    def set_cluster_down(self, cluster: str, down: bool) -> None:
        self.call(lambda: self.fabric.set_cluster_down(cluster, down))

    def partition(self, side_a: set[str], side_b: set[str]) -> None:
        self.call(lambda: self.fabric.partition(side_a, side_b))

    def heal(self) -> None:
        self.call(self.fabric.heal)

    def local_command(self, host: str, port: int, command: dict[str, Any]) -> dict[str, Any]:
        """A command from inside the member's pod (loopback: the localhost exception applies)."""
        return self.run(self.fabric.local_command(host, port, command))

    def inspect(self, function: Callable[[MongoFabric], Any]) -> Any:
        """Read fabric state safely from another thread: ``sim.inspect(lambda f: len(f.rollbacks))``."""
        return self.call(lambda: function(self.fabric))
