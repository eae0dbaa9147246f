"""A member's watch usually starts while the member's pod is starting: its Service (and so its address) exists
before mongod listens. Whoever started the watch looked at a member that was not there yet, so the member's
first answer, after refused connections, is news: the instance must be looked at again then, not at the next
requeue seconds later."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from fedstate_agent import memberwatch
from fedstate_agent.memberwatch import MemberWatch
from fedstate_sim.mongo.api import MemberLaunch
from fedstate_sim.mongo.testing import fast_settings, free_port
from fedstate_sim.mongo.threaded import FabricThread

HOST = "127.0.77.1"


@dataclass
class WatchedAddress:
    """A member's watch, started on an address where nothing listens yet, and what it told."""

    watch: MemberWatch
    told: list[str]
    start_member: Callable[[], Awaitable[None]]


@contextlib.asynccontextmanager
async def watched_address() -> AsyncIterator[WatchedAddress]:
    port = free_port(HOST)
    told: list[str] = []
    watch = MemberWatch(f"{HOST}:{port}", lambda: told.append("changed"))
    launch = MemberLaunch(cluster="c1", host=HOST, port=port, repl_set="rs", data_key="c1/d", pod="ns/rs-0")
    with FabricThread(fast_settings()) as sim:
        watch.start()
        try:
            yield WatchedAddress(watch, told, lambda: asyncio.to_thread(sim.start_member, launch))
        finally:
            await watch.stop()


async def test_the_first_answer_after_refused_connections_is_news() -> None:
    async with watched_address() as member:
        await asyncio.sleep(0.5)  # refused: nothing listens there yet
        assert member.watch.token is None and member.told == []
        await member.start_member()
        for _ in range(100):
            if member.told:
                break
            await asyncio.sleep(0.05)
        assert member.told == ["changed"], "the member's first answer was taken as already known"
        assert member.watch.token is not None


async def test_a_look_tries_at_once_and_its_answer_is_the_lookers(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pass told that a member's pod is Ready looks at a watch waiting to try again: the watch tries at once
    rather than after its backoff, and the answer is the pass's to report, not news that enqueues another pass."""
    monkeypatch.setattr(memberwatch, "RETRY_SECONDS", (30.0,))  # left alone, it would not try again in this test
    async with watched_address() as member:
        await asyncio.wait_for(member.watch.look(), 2.0)  # refused: the first try failed
        assert member.watch.token is None
        await member.start_member()
        await asyncio.wait_for(member.watch.look(), 2.0)
        assert member.watch.token is not None and member.watch.hello is not None and member.watch.version
        assert member.told == [], "the look's own answer enqueued another pass"


async def test_a_connection_that_never_answers_its_first_hello_is_given_up_soon(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A member's first hello on a connection is not awaitable: mongod answers it at once. A peer that accepts and
    stays silent (a half-open connection, a member gone without closing it) is given up after the connect timeout
    and dialled again, not after the minute an awaitable hello may take."""
    monkeypatch.setattr(memberwatch, "CONNECT_SECONDS", 0.3)
    monkeypatch.setattr(memberwatch, "RETRY_SECONDS", (0.05,))
    connections: list[float] = []
    dialled_again = asyncio.Event()
    held: list[asyncio.StreamWriter] = []

    async def silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(asyncio.get_running_loop().time())
        held.append(writer)  # read nothing, answer nothing, close nothing
        if len(connections) == 2:
            dialled_again.set()

    server = await asyncio.start_server(silent, HOST, 0)
    port = server.sockets[0].getsockname()[1]
    watch = MemberWatch(f"{HOST}:{port}", lambda: None)
    watch.start()
    try:
        await asyncio.wait_for(dialled_again.wait(), 5)
        assert connections[1] - connections[0] < 1.0, "the silent connection was held for an awaitable hello's time"
        assert watch.token is None
    finally:
        await watch.stop()
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
