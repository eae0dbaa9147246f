"""CLI fixtures: a real gateway (uvicorn) and the real intake, served from a background thread.

``CliRunner.invoke`` blocks the test's thread, so the gateway and the intake run on
their own event loop in another thread; ``served.run(coro)`` executes bus writes there.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from served_gateway import ServedGateway
from typer.testing import CliRunner

from fedstate.bus.connection import Bus, connect
from fedstate.cli.client import TOKEN_ENV
from fedstate.cli.main import app
from fedstate.natsserver import NatsServer, free_port
from fedstate.sealing import KeyRing
from fedstate.tokens import Role, issue
from fedstate_federation.intake import serve_intake
from fedstate_federation.vault import Vault
from fedstate_gateway.app import create_app
from fedstate_gateway.settings import GatewaySettings
from tests.conftest import register_clusters
from tests.sealed_intake import federation_public_keys


async def _start(
    nats_url: str, tenant: str, tokens_file: Path
) -> tuple[Bus, uvicorn.Server, asyncio.Task[None], Callable[[], Awaitable[None]]]:
    bus = await connect(nats_url, name=f"cli-test-{tenant}")
    await register_clusters(bus)
    vault = Vault(KeyRing.generate())
    subscription = await serve_intake(bus, vault)
    settings = GatewaySettings(
        nats_url=nats_url,
        tenant=tenant,
        intake_timeout_seconds=5,
        tokens_file=tokens_file,
        federation_public_key_file=federation_public_keys(vault, tokens_file.parent),
    )
    config = uvicorn.Config(create_app(settings, bus=bus), host="127.0.0.1", port=free_port(), log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
        await asyncio.sleep(0.02)
    return bus, server, task, subscription.unsubscribe


@pytest.fixture(scope="module")
def served(nats_server: NatsServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedGateway]:
    """The gateway, and an admin token of its tenant in ``$FEDSTATE_TOKEN`` (the CLI, and its subprocesses, send
    it) for the module's tests."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="cli-test-gateway", daemon=True)
    thread.start()
    tenant = f"cli{uuid.uuid4().hex[:6]}"
    tokens_file = tmp_path_factory.mktemp("tokens") / "api-tokens.json"
    _, token = issue(tokens_file, tenant, Role.ADMIN, "cli-tests")
    started = _start(nats_server.url, tenant, tokens_file)
    bus, server, task, unsubscribe = asyncio.run_coroutine_threadsafe(started, loop).result(30)
    port = server.config.port
    previous = os.environ.get(TOKEN_ENV)
    os.environ[TOKEN_ENV] = token
    yield ServedGateway(f"http://127.0.0.1:{port}", tenant, bus, loop, token, tokens_file)
    if previous is None:
        os.environ.pop(TOKEN_ENV, None)
    else:
        os.environ[TOKEN_ENV] = previous

    async def _stop() -> None:
        server.should_exit = True
        await task
        await unsubscribe()
        await bus.close()

    asyncio.run_coroutine_threadsafe(_stop(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


@pytest.fixture
def cli(served: ServedGateway, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Callable[..., Any]:
    """Invoke ``fedstate ARGS`` against the served gateway (through FEDSTATE_SERVER), from an empty directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FEDSTATE_SERVER", served.url)
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Any:
        return runner.invoke(app, list(args), input=input)

    return invoke


@pytest.fixture
def name() -> str:
    """A fresh object name, so tests sharing the module's gateway never collide."""
    return f"obj-{uuid.uuid4().hex[:6]}"
