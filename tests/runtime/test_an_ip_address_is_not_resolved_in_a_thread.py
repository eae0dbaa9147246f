"""The services' event loop (``fedstate.eventloop``) answers ``getaddrinfo`` for an IP address itself: pymongo asks
it for every connection, and each answer used to cost a hop through a worker thread and back. Names are still
resolved in the executor."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from pymongo import AsyncMongoClient

from fedstate.eventloop import ServiceLoop
from fedstate_sim.mongo import MongoFabric
from fedstate_sim.mongo.testing import address, fast_settings, plan_members

OCTET = 213


class CountingExecutor(ThreadPoolExecutor):
    """The loop's default executor, counting what is handed to a thread."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.handed: list[str] = []

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.handed.append(getattr(fn, "__name__", repr(fn)))
        return super().submit(fn, *args, **kwargs)


def on_service_loop(scenario: Callable[[CountingExecutor], Coroutine[Any, Any, None]]) -> None:
    executor = CountingExecutor()
    with asyncio.Runner(loop_factory=ServiceLoop) as runner:
        runner.get_loop().set_default_executor(executor)
        runner.run(scenario(executor))


def test_ip_addresses_are_answered_on_the_loop_with_what_the_resolver_would_say() -> None:
    async def scenario(executor: CountingExecutor) -> None:
        loop = asyncio.get_running_loop()
        for host in ("127.0.1.1", "::1", b"10.0.0.7"):
            answer = await loop.getaddrinfo(host, 27017, type=socket.SOCK_STREAM)
            assert socket.getaddrinfo(host, 27017, type=socket.SOCK_STREAM) == answer
        assert [] == executor.handed
        await loop.getaddrinfo("localhost", 27017, type=socket.SOCK_STREAM)
        assert ["getaddrinfo"] == executor.handed, "a name must still go to the resolver, off the loop"

    on_service_loop(scenario)


def test_pymongo_connects_to_a_member_at_its_address_without_a_thread() -> None:
    async def scenario(executor: CountingExecutor) -> None:
        fabric = MongoFabric(fast_settings())
        (launch,) = plan_members("rs0", {"c1": 1}, OCTET)
        await fabric.start_member(launch)
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(address(launch), directConnection=True)
        try:
            assert (await client.admin.command("hello"))["ok"] == 1
        finally:
            await client.close()
            await fabric.close()
        assert "getaddrinfo" not in executor.handed

    on_service_loop(scenario)
