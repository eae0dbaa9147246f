"""An oversized request is answered 413 with a Kubernetes Status, never 503; an object under the limit is stored."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from fedstate.api import CONFIGMAP, MULTICLOUD_MONGODB
from fedstate.bus.connection import Bus
from fedstate.bus.limits import MAX_OBJECT_BYTES
from fedstate_gateway.app import create_app
from fedstate_gateway.limits import MAX_BODY_BYTES
from fedstate_gateway.settings import GatewaySettings

Manifest = Callable[..., dict[str, Any]]


@pytest.fixture
async def no_intake(
    bus: Bus, settings: GatewaySettings, auth_headers: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway with nobody answering on the intake subject: a request that reached the bus would be 503."""
    app = create_app(settings, bus=bus)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway", headers=auth_headers) as client:
        yield client


def configmap(name: str, size: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"blob": "x" * size}}


async def test_a_ten_megabyte_body_is_413_unread(no_intake: httpx.AsyncClient) -> None:
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            sent.append(1)
            yield b"x" * 1_000_000

    response = await no_intake.put(
        CONFIGMAP.item_path("default", "huge"),
        content=chunks(),
        headers={"content-type": "application/json", "content-length": "10000000"},
    )
    assert 413 == response.status_code
    assert {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "reason": "RequestEntityTooLarge",
        "code": 413,
        "message": f"Request entity too large: limit is {MAX_BODY_BYTES}",
    }.items() <= response.json().items()
    assert len(sent) <= 1, "the gateway read a body whose declared length is over the limit"


async def test_a_ten_megabyte_object_is_413_not_503(no_intake: httpx.AsyncClient) -> None:
    response = await no_intake.put(CONFIGMAP.item_path("default", "huge"), json=configmap("huge", 10_000_000))
    assert (413, "RequestEntityTooLarge") == (response.status_code, response.json()["reason"])


async def test_a_streamed_body_is_cut_off_at_the_limit(no_intake: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"metadata": {"name": "streamed"}, "data": {"blob": "'
        for _ in range(5):
            yield b"x" * 1_000_000
        yield b'"}}'

    response = await no_intake.put(
        CONFIGMAP.item_path("default", "streamed"), content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert (413, f"Request entity too large: limit is {MAX_BODY_BYTES}") == (
        response.status_code,
        response.json()["message"],
    )


async def test_an_object_over_the_intake_limit_is_413_before_the_bus(no_intake: httpx.AsyncClient) -> None:
    body = configmap("large", MAX_OBJECT_BYTES)
    response = await no_intake.put(CONFIGMAP.item_path("default", "large"), json=body)
    assert 413 == response.status_code
    assert (
        'ConfigMap "large" is too large: 512 KiB as JSON, an object may be at most 512 KiB'
        == response.json()["message"]
    )
    assert {"name": "large", "kind": "configmaps"}.items() <= response.json()["details"].items()
    assert 404 == (await no_intake.get(CONFIGMAP.item_path("default", "large"))).status_code


async def test_an_object_just_under_the_limit_travels_the_bus(api: httpx.AsyncClient) -> None:
    body = configmap("fits", MAX_OBJECT_BYTES - 200)
    response = await api.put(CONFIGMAP.item_path("default", "fits"), json=body)
    assert 201 == response.status_code, response.text
    assert body["data"] == (await api.get(CONFIGMAP.item_path("default", "fits"))).json()["data"]


async def test_small_requests_pass_the_body_limit(api: httpx.AsyncClient, mcm_body: Manifest) -> None:
    assert 201 == (await api.put(MULTICLOUD_MONGODB.item_path("default", "small"), json=mcm_body("small"))).status_code
    assert 200 == (await api.get(MULTICLOUD_MONGODB.item_path("default", "small"))).status_code
