"""A gateway asked to stop (SIGTERM, as ``fedstate down`` asks) with watches open ends their streams and stops:
uvicorn waits for the responses in flight, and a watch would not end by itself for half an hour. The client sees
its stream end, and resumes elsewhere or once the gateway is back."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fedstate.natsserver import NatsServer, free_port


@pytest.fixture
def gateway(nats_server: NatsServer, tokens_file: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    environment = {
        **os.environ,
        "FEDSTATE_NATS_URL": nats_server.url,
        "FEDSTATE_API_PORT": str(port),
        "FEDSTATE_TOKENS_FILE": str(tokens_file),
    }
    process = subprocess.Popen([sys.executable, "-m", "fedstate_gateway"], env=environment)
    yield process, port
    if process.poll() is None:
        process.kill()
        process.wait()


def connected(port: int) -> http.client.HTTPConnection:
    """A connection once the gateway answers."""
    while True:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request("GET", "/healthz")
            connection.getresponse().read()
            return connection
        except OSError:
            connection.close()
            time.sleep(0.1)


def test_sigterm_ends_the_watches_and_stops_the_gateway(
    gateway: tuple[subprocess.Popen[bytes], int], auth_headers: dict[str, str]
) -> None:
    process, port = gateway
    connection = connected(port)
    connection.request("GET", "/watch?watch=true&resources=mcm,clusters", headers=auth_headers)
    stream = connection.getresponse()
    assert 200 == stream.status
    process.send_signal(signal.SIGTERM)
    while stream.readline():  # what was queued, then the end of the stream
        pass
    process.wait(timeout=30)  # without the watches ended it waits for them: 30 min
    assert process.returncode in (0, -signal.SIGTERM)  # uvicorn raises the signal again once stopped
