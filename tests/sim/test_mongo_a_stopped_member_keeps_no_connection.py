"""A member that stops keeps no connection open, as mongod's exit closes every socket it holds: not even one it
had accepted just before, whose handler had not started yet. Left open, such a connection answered for the stopped
member, and an agent's awaitable hello on it waited for a topology change that never came (70 s, while the
member's successor at the same address became PRIMARY)."""

from __future__ import annotations

import errno
import socket
from asyncio.selector_events import BaseSelectorEventLoop
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from fedstate_agent.memberwatch import command_message
from fedstate_sim.mongo import FabricThread
from fedstate_sim.mongo import server as server_module
from fedstate_sim.mongo.api import MemberLaunch
from fedstate_sim.mongo.server import MemberServer
from fedstate_sim.mongo.testing import SetHarness, fast_settings, free_port

OCTET = 211


@pytest.fixture
def sim() -> Iterator[FabricThread]:
    with FabricThread(fast_settings()) as thread:
        yield thread


def test_a_connection_accepted_as_its_member_stopped_is_closed_not_served(
    sim: FabricThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    stopping: set[int] = set()
    handle = MemberServer._handle

    async def stopped_before_the_handler_ran(self: MemberServer, *args: Any) -> None:
        if self.member.launch.port in stopping:  # the member stops between the accept and its handler's start
            stopping.discard(self.member.launch.port)
            self.close()
        await handle(self, *args)

    monkeypatch.setattr(MemberServer, "_handle", stopped_before_the_handler_ran)
    harness = SetHarness(sim, "rs0", {"c1": 1}, OCTET).start()
    launch = harness.launches[0]
    stopping.add(launch.port)
    with socket.create_connection((launch.host, launch.port), timeout=5) as client:
        try:
            client.sendall(command_message({"hello": 1, "$db": "admin"}))
            answer = client.recv(4096)
        except ConnectionResetError:
            answer = b""
    assert b"" == answer
    harness.close()


def test_a_connection_made_as_its_member_restarts_is_answered_or_closed_never_left_hanging(sim: FabricThread) -> None:
    """A client connects to a member that has just started and asks; at once, before the member's loop has served
    it, the member stops and a new mongod starts at the same address (a pod replaced right after it started). The
    connection belongs to the stopped one: it may have been answered, else it is closed. Through asyncio's own
    server, 50 of 60 such connections were neither, for as long as their sockets waited for the garbage collector."""
    host = f"127.0.{OCTET}.9"
    outcomes: list[str] = []
    for attempt in range(30):
        port = free_port(host)
        launch = MemberLaunch(cluster="c1", host=host, port=port, repl_set="rs", data_key=f"c1/{attempt}", pod="ns/a")

        async def restart(first: MemberLaunch = launch, clean: bool = attempt % 2 == 0) -> None:
            await sim.fabric.stop_member(first.host, first.port, clean=clean)
            await sim.fabric.start_member(replace(first, pod="ns/b"))

        sim.start_member(launch)
        with socket.create_connection((host, port), timeout=2) as client:
            client.sendall(command_message({"hello": 1, "$db": "admin"}))
            sim.run(restart())
            try:
                outcomes.append("answered" if client.recv(4096) else "closed")
            except ConnectionResetError:
                outcomes.append("closed")
            except TimeoutError:
                outcomes.append("left hanging")
        sim.stop_member(host, port)
    assert "left hanging" not in outcomes, outcomes


def test_a_member_that_could_not_accept_a_connection_accepts_again(
    sim: FabricThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Out of file descriptors for a moment (a fleet on one machine), mongod logs the failed accept and goes on
    listening: the member answers the next client, and did not stop accepting for good."""
    monkeypatch.setattr(server_module, "ACCEPT_RETRY_SECONDS", 0.05)
    accept = BaseSelectorEventLoop.sock_accept
    failed: list[int] = []

    async def out_of_descriptors_once(loop: BaseSelectorEventLoop, sock: socket.socket) -> tuple[socket.socket, Any]:
        if not failed:
            failed.append(sock.getsockname()[1])
            raise OSError(errno.EMFILE, "Too many open files")
        return await accept(loop, sock)

    monkeypatch.setattr(BaseSelectorEventLoop, "sock_accept", out_of_descriptors_once)
    host = f"127.0.{OCTET}.10"
    port = free_port(host)
    sim.start_member(MemberLaunch(cluster="c1", host=host, port=port, repl_set="rs", data_key="c1/emfile", pod="ns/e"))
    with socket.create_connection((host, port), timeout=5) as client:
        client.sendall(command_message({"hello": 1, "$db": "admin"}))
        assert client.recv(4096), "the member stopped accepting after one failed accept"
    assert [port] == failed
    sim.stop_member(host, port)
