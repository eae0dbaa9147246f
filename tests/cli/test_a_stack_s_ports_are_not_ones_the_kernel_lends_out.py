"""The ports a stack picks for its servers (NATS and its routes, the gateway, metrics) lie below the kernel's
ephemeral range: a port the kernel handed out could be handed again to an outgoing connection before the server
binds it, and a CI run saw a three-server NATS cluster fail to start that way."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from fedstate import natsserver
from fedstate.natsserver import FIRST_PORT, ephemeral_ports, free_port


def test_a_free_port_is_below_the_ephemeral_range_and_can_be_bound() -> None:
    ports = {free_port() for _ in range(50)}
    assert all(FIRST_PORT <= port < ephemeral_ports().start for port in ports)
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_the_kernel_s_own_range_is_the_one_avoided(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    configured = tmp_path / "ip_local_port_range"
    configured.write_text("20000\t60999\n")
    monkeypatch.setattr(natsserver, "EPHEMERAL_RANGE", configured)
    assert all(FIRST_PORT <= free_port() < 20_000 for _ in range(50))


def test_a_port_in_use_is_not_picked(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        busy = taken.getsockname()[1]
        draws: Iterator[int] = iter([busy, *range(FIRST_PORT, FIRST_PORT + 100)])
        monkeypatch.setattr(natsserver.random, "randrange", lambda *_: next(draws))
        assert busy != free_port()
