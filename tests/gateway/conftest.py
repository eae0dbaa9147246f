"""Gateway fixtures: the app on the real NATS server, answered by the real intake of fedstate_federation.

Each test gets its own tenant, so objects written by one test are invisible to the others.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from fedstate.bus.connection import Bus
from fedstate.natsserver import free_port
from fedstate.sealing import KeyRing
from fedstate.tokens import Role, issue
from fedstate_federation.intake import serve_intake
from fedstate_federation.vault import Vault
from fedstate_gateway.__main__ import Server
from fedstate_gateway.app import create_app
from fedstate_gateway.settings import GatewaySettings
from tests.conftest import register_clusters
from tests.sealed_intake import federation_public_keys

# The federation's key ring of the gateway tests: intake seals the user's secrets in fs-spec with it.
FEDERATION_VAULT = Vault(KeyRing.generate())


@pytest.fixture
def federation_vault() -> Vault:
    """What opens the secrets the intake sealed (this module's own: a test importing it would get a copy)."""
    return FEDERATION_VAULT


NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def now() -> datetime:
    """The gateway's clock in these tests: it stands still."""
    return NOW


@pytest.fixture
def tenant() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


@pytest.fixture
def tokens_file(tmp_path: Path) -> Path:
    return tmp_path / "tokens.json"


def bearer(tokens_file: Path, tenant: str, role: Role = Role.ADMIN, name: str = "test") -> dict[str, str]:
    """The headers of a new token of ``role`` in ``tenant``."""
    _, token = issue(tokens_file, tenant, role, name)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def auth_headers(tokens_file: Path, tenant: str) -> dict[str, str]:
    """An admin token of the test's tenant, which every client of these fixtures sends."""
    return bearer(tokens_file, tenant)


@pytest.fixture
def settings(tenant: str, tokens_file: Path) -> GatewaySettings:
    return GatewaySettings(
        tenant=tenant,
        failure_threshold_seconds=20,
        tokens_file=tokens_file,
        federation_public_key_file=federation_public_keys(FEDERATION_VAULT, tokens_file.parent),
    )


@pytest.fixture
async def intake(bus: Bus) -> AsyncIterator[None]:
    await register_clusters(bus)
    subscription = await serve_intake(bus, FEDERATION_VAULT)
    yield
    await subscription.unsubscribe()


@pytest.fixture
async def api(
    bus: Bus, settings: GatewaySettings, intake: None, auth_headers: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the gateway app, whose clock stands still at ``NOW``; its lifespan runs around it."""
    app = create_app(settings, bus=bus, clock=lambda: NOW)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://gateway", headers=auth_headers) as client,
    ):
        yield client


def mcm(name: str = "sample", **spec: Any) -> dict[str, Any]:
    """A small MultiCloudMongoDB manifest; keyword arguments override spec fields."""
    body: dict[str, Any] = {
        "apiVersion": "middleware.fedstate.io/v1alpha1",
        "kind": "MultiCloudMongoDB",
        "metadata": {"name": name},
        "spec": {"replicaset": 3, "imageSetting": {"image": "mongo:6.0"}},
    }
    body["spec"].update(spec)
    return body


@pytest.fixture
def mcm_body() -> Callable[..., dict[str, Any]]:
    return mcm


@pytest.fixture
def served_settings(settings: GatewaySettings) -> GatewaySettings:
    """Settings of the served gateway: a test overrides this to shorten bookmarks or the history."""
    return settings


@pytest.fixture
async def served(
    bus: Bus, served_settings: GatewaySettings, intake: None, auth_headers: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the gateway served by uvicorn on this loop: streams (watches) arrive as they are written,
    which ``httpx.ASGITransport`` (it reads a response whole) cannot show."""
    app = create_app(served_settings, bus=bus)
    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    server = Server(config, app.state.gateway.end_watches)  # the gateway's own, as ``python -m`` serves it
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
        await asyncio.sleep(0.02)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{config.port}", timeout=30, headers=auth_headers
    ) as client:
        yield client
    server.should_exit = True
    await task
