"""A member service's Kubernetes client goes through ``HTTPS_PROXY``/``HTTP_PROXY`` unless ``NO_PROXY`` names the
API server, as client-go does — read once when the client is made, not on every request."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from kubernetes.aio import client

from fedstate.kube import api_client
from fedstate_sim.config import default_config
from fedstate_sim.world import NullMemberHost, World


class RecordingProxy:
    """Answers every request 502 and remembers the request lines it was sent."""

    def __init__(self) -> None:
        self.requests: list[str] = []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.requests.append((await reader.readline()).decode().strip())
        writer.write(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    async def start(self) -> str:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


@pytest.fixture
async def kubeconfig(tmp_path: Path) -> AsyncIterator[Path]:
    async with World(default_config(1), host=NullMemberHost()) as world:
        yield world.write_kubeconfig(tmp_path / "kubeconfig")


def api_server(kubeconfig: Path) -> str:
    return str(yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"])


async def version_through(kubeconfig: Path) -> int:
    api = await api_client(kubeconfig, "member-1")
    try:
        await client.VersionApi(api).get_code()
    except client.ApiException as exc:
        return int(exc.status)
    finally:
        await api.close()
    return 200


async def test_the_proxy_named_by_the_environment_carries_the_requests(
    kubeconfig: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = RecordingProxy()
    monkeypatch.setenv("HTTP_PROXY", await proxy.start())
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert 502 == await version_through(kubeconfig)
    assert 1 == len(proxy.requests) and proxy.requests[0].startswith("GET http://")


async def test_no_proxy_naming_the_api_server_goes_direct(kubeconfig: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = RecordingProxy()
    monkeypatch.setenv("HTTP_PROXY", await proxy.start())
    server = api_server(kubeconfig)
    monkeypatch.setenv("NO_PROXY", f"localhost,{urlsplit(server).hostname}")
    assert 200 == await version_through(kubeconfig)
    assert [] == proxy.requests
