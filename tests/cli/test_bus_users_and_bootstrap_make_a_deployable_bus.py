"""``fedstate bus users`` and ``fedstate bus bootstrap`` are all a deployment needs to run its bus with users:
a nats-server including ``users.conf``, buckets made by the admin, each service on its own seed."""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fedstate.bus.access import BusAccess, seed_path
from fedstate.bus.connection import connect
from fedstate.bus.credentials import public_key
from fedstate.bus.identities import Component, Identity
from fedstate.cli.main import app
from fedstate.models.dataplane import DataPlaneStatus
from fedstate.natsserver import NatsServer, start_nats_server

runner = CliRunner()


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NatsServer, Path]]:
    out = tmp_path_factory.mktemp("bus-users")
    clusters = ["--cluster", "member-1", "--cluster", "member-2"]
    result = runner.invoke(app, ["bus", "users", "--out", str(out), *clusters, "--platform-tenant", "team-a"])
    assert 0 == result.exit_code, result.output
    server = start_nats_server(tmp_path_factory.mktemp("bus-users-js"), config=out / "users.conf")
    yield server, out
    server.stop()


def test_every_user_gets_a_seed_only_its_owner_reads(made: tuple[NatsServer, Path]) -> None:
    _, out = made
    seeds = sorted(path.name for path in out.glob("*.nk"))
    expected = [
        "admin",
        "agent-member-1",
        "agent-member-2",
        "collector-member-1",
        "collector-member-2",
        "leaf-member-1",
        "leaf-member-2",
        "platform-team-a",
    ]
    assert sorted(f"{user}.nk" for user in [*expected, "crd-bridge", "federation", "gateway", "scheduler"]) == seeds
    assert {0o600} == {stat.S_IMODE(path.stat().st_mode) for path in out.glob("*.nk")}


def test_the_admin_bootstraps_and_a_service_then_works_as_its_own_user(
    made: tuple[NatsServer, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, out = made
    monkeypatch.setenv("FEDSTATE_NATS_CREDENTIALS", str(out))
    result = runner.invoke(app, ["bus", "bootstrap", "--nats", server.url])
    assert 0 == result.exit_code, result.output
    listed = runner.invoke(app, ["bus", "kv", "ls", "fs-observed", "--nats", server.url])
    assert 0 == listed.exit_code, listed.output
    assert 0 < asyncio.run(report_as_agent(server.url, out))


async def report_as_agent(url: str, credentials: Path) -> int:
    """member-1's agent writes a report, as its own user, into a bucket the admin made."""
    agent = Identity(Component.AGENT, "member-1")
    bus = await connect(url, name=agent.user, identity=agent, access=BusAccess(credentials))
    try:
        report = DataPlaneStatus(cluster="member-1", observed_at=datetime(2026, 1, 1, tzinfo=UTC), generation=1)
        return await bus.observed.put("member-1.default.ns.rs0", report)
    finally:
        await bus.close()


def test_with_a_domain_each_leaf_node_gets_its_clusters_two_users(tmp_path: Path) -> None:
    """What a member cluster's leaf node includes: its agent and collector only, asking under the hub's domain."""
    args = ["bus", "users", "--out", str(tmp_path), "--cluster", "member-1", "--cluster", "member-2"]
    result = runner.invoke(app, [*args, "--jetstream-domain", "hub"])
    assert 0 == result.exit_code, result.output
    leaf_users = json.loads((tmp_path / "leaf-member-1-users.conf").read_text())["authorization"]["users"]
    served = [Identity(Component.AGENT, "member-1"), Identity(Component.COLLECTOR, "member-1")]
    assert sorted(public_key(seed_path(tmp_path, i)) for i in served) == sorted(u["nkey"] for u in leaf_users)
    granted = [s for user in leaf_users for s in user["permissions"]["publish"]["allow"]]
    assert not [s for s in granted if s.startswith(("$JS.API.", "$KV."))]
    assert any(s.startswith("$JS.hub.API.DIRECT.GET.KV_fs-dataplane.") for s in granted)
