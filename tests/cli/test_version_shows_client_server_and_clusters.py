"""``fedstate version`` shows the client's, the gateway's and each member cluster's version, as kubectl
version does; ``--version`` and ``version --client`` need no gateway."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from served_gateway import ServedGateway
from typer.testing import CliRunner

from fedstate.cli.main import app
from fedstate.models.base import utcnow
from fedstate.models.cluster import ClusterSnapshot

RELEASE = version("fedstate")


def test_version_asks_the_gateway(cli: Callable[..., Any], served: ServedGateway, name: str) -> None:
    snapshot = ClusterSnapshot(name=name, vip="127.0.9.1", observed_at=utcnow(), agent_version="9.9.9")
    served.run(served.bus.clusters.put(name, snapshot))
    try:
        lines = cli("version").stdout.splitlines()
        document = json.loads(cli("version", "-o", "json").stdout)
    finally:
        served.run(served.bus.clusters.delete(name))
    assert [f"Client Version: {RELEASE}", f"Server Version: {RELEASE}"] == lines[:2]
    assert f"Member Cluster {name}: 9.9.9" in lines
    assert (RELEASE, RELEASE, "9.9.9") == (
        document["clientVersion"]["version"],
        document["serverVersion"]["version"],
        document["memberClusters"][name],
    )


def test_without_a_gateway_the_client_version_still_shows(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FEDSTATE_SERVER", raising=False)
    runner = CliRunner()
    unreachable = runner.invoke(app, ["version"])
    assert (1, f"Client Version: {RELEASE}\n") == (unreachable.exit_code, unreachable.stdout)
    assert "no fedstate stack found" in unreachable.stderr
    for args in (["--version"], ["version", "--client"]):
        result = runner.invoke(app, args)
        assert (0, f"Client Version: {RELEASE}\n") == (result.exit_code, result.stdout)
