"""The gateway serves /healthz, prometheus /metrics and its OpenAPI document; a silent intake is a 503."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from fedstate.api import MULTICLOUD_MONGODB
from fedstate.bus.connection import connect
from fedstate.natsserver import start_nats_server
from fedstate_gateway.app import create_app
from fedstate_gateway.settings import GatewaySettings


async def test_healthz_reports_the_bus_connection(api: httpx.AsyncClient) -> None:
    response = await api.get("/healthz")
    assert (200, {"ok": True, "nats": True}) == (response.status_code, response.json())


async def test_metrics_count_requests_per_route_template(api: httpx.AsyncClient) -> None:
    await api.get(MULTICLOUD_MONGODB.collection_path("default"))
    text = (await api.get("/metrics")).text
    assert 'fedstate_gateway_requests_total{code="200",method="GET",route="/apis/' in text
    assert "fedstate_gateway_request_duration_seconds_bucket" in text


async def test_openapi_lists_the_kubernetes_style_paths(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    assert {"get", "put", "patch", "delete"} == set(paths[MULTICLOUD_MONGODB.item_path("{namespace}", "{name}")])
    assert "/clusters" in paths


@pytest.fixture
async def without_intake(
    tmp_path: Path, settings: GatewaySettings, auth_headers: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway on a private NATS server that no intake listens to."""
    server = start_nats_server(tmp_path / "jetstream")
    bus = await connect(server.url, name="lonely-gateway")
    app = create_app(settings.model_copy(update={"intake_timeout_seconds": 0.5}), bus=bus)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway", headers=auth_headers) as client:
        yield client
    await bus.close()
    server.stop()


async def test_a_silent_intake_is_service_unavailable(
    without_intake: httpx.AsyncClient, mcm_body: Callable[..., dict[str, Any]]
) -> None:
    response = await without_intake.post(MULTICLOUD_MONGODB.collection_path("default"), json=mcm_body("lonely"))
    assert 503 == response.status_code
    assert "intake" in response.json()["message"]
