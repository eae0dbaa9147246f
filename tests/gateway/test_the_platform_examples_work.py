"""The worked examples of docs/platform-api.md run as written (issue 15, item 2): a platform submits a
MultiCloudMongoDB and follows it to Health with only a NATS client (``platform_over_nats.py``), or with only
curl (``platform-over-http.sh``), here against the real intake with the federation's status writes played by
the test."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from fedstate.bus.connection import Bus
from fedstate.bus.names import InstanceKey, Kind
from fedstate.bus.objects import StatusRecord
from fedstate.models.multicloud import InstanceState, MultiCloudMongoDBStatus
from fedstate.natsserver import NatsServer
from fedstate_gateway.settings import GatewaySettings

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
Manifest = Callable[..., dict[str, Any]]


@pytest.fixture
def served_settings(settings: GatewaySettings) -> GatewaySettings:
    """Bookmarks often: curl leaves once its reader has, at its next write."""
    return settings.model_copy(update={"watch_bookmark_seconds": 0.2})


async def report(bus: Bus, tenant: str, name: str, state: InstanceState) -> None:
    """What the federation writes as the instance comes up, for the generation submitted."""
    status = MultiCloudMongoDBStatus(state=state, observed_generation=1)
    key = InstanceKey(tenant, "default", Kind.MULTICLOUD_MONGODB, name)
    await bus.status.put(key.status_key, StatusRecord(kind="MultiCloudMongoDB", multicloud=status))


async def line(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    return (await process.stdout.readline()).decode().strip()


async def comes_up(process: asyncio.subprocess.Process, bus: Bus, tenant: str, name: str, printed: list[str]) -> None:
    """The federation reports Creating, then Health: the example prints ``printed`` after each, and ends well."""
    for state, expected in zip((InstanceState.CREATING, InstanceState.HEALTH), printed, strict=True):
        await report(bus, tenant, name, state)
        assert expected == await line(process)
    assert 0 == await process.wait()


async def test_a_platform_with_only_a_nats_client(
    bus: Bus,
    intake: None,
    nats_server: NatsServer,
    tenant: str,
    tmp_path: Path,
    mcm_body: Manifest,
    settings: GatewaySettings,
) -> None:
    """Its password sealed to the federation's key as the intake requires (the intake refuses one in clear)."""
    manifest = tmp_path / "over-nats.json"
    manifest.write_text(json.dumps(mcm_body("over-nats", auth={"rootPasswd": "platform-root-pass"})))
    script = EXAMPLES / "platform_over_nats.py"
    public_keys = str(settings.federation_public_key_file)
    command = [str(script), str(manifest), "--nats", nats_server.url, "--tenant", tenant]
    command += ["--federation-public-key", public_keys]
    process = await asyncio.create_subprocess_exec(sys.executable, *command, stdout=asyncio.subprocess.PIPE)
    assert "created default/over-nats generation 1" == await line(process)
    await comes_up(process, bus, tenant, "over-nats", ["Creating (generation 1)", "Health (generation 1)"])


async def test_a_platform_with_only_curl(
    served: httpx.AsyncClient, bus: Bus, tenant: str, tmp_path: Path, mcm_body: Manifest
) -> None:
    manifest = tmp_path / "over-http.yaml"
    manifest.write_text(yaml.safe_dump(mcm_body("over-http")))
    token = served.headers["Authorization"].removeprefix("Bearer ")
    environment = {**os.environ, "FEDSTATE_SERVER": str(served.base_url).rstrip("/"), "FEDSTATE_TOKEN": token}
    script = EXAMPLES / "platform-over-http.sh"
    process = await asyncio.create_subprocess_exec(
        "sh", str(script), str(manifest), "over-http", stdout=asyncio.subprocess.PIPE, env=environment
    )
    assert "applied over-http" == await line(process)
    assert "ADDED Pending" == await line(process)
    await comes_up(process, bus, tenant, "over-http", ["MODIFIED Creating", "over-http is Health"])
