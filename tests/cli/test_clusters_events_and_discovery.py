"""``clusters`` and ``events`` tables, and how the CLI finds the gateway (flag, env, ./.fedstate/state.json)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from served_gateway import ServedGateway
from typer.testing import CliRunner

from fedstate.bus import events
from fedstate.bus.names import InstanceKey, Kind
from fedstate.cli.main import app
from fedstate.cli.records import StackState, save_state
from fedstate.cli.state import StackPaths
from fedstate.models.base import utcnow
from fedstate.models.cluster import ClusterSnapshot, NodeResources

GIB = 1024**3


ClusterWriter = Callable[..., None]


@pytest.fixture
def put_cluster(served: ServedGateway) -> Iterator[ClusterWriter]:
    """Writes snapshots heartbeating ``age_seconds`` ago; deletes them afterwards (fs-clusters is shared)."""
    written: list[str] = []

    def put(name: str, age_seconds: float, labels: dict[str, str] | None = None) -> None:
        node = NodeResources(
            name="n1", allocatable_cpu_millis=8000, allocatable_memory_bytes=32 * GIB, requested_cpu_millis=2500
        )
        observed_at = utcnow() - timedelta(seconds=age_seconds)
        snapshot = ClusterSnapshot(
            name=name, vip="127.0.9.1", zone="zone-9", labels=labels or {}, nodes=[node] * 3, observed_at=observed_at
        )
        served.run(served.bus.clusters.put(name, snapshot))
        written.append(name)

    yield put
    for name in written:
        served.run(served.bus.clusters.delete(name))


def test_clusters_show_health_and_capacity(cli: Callable[..., Any], put_cluster: ClusterWriter, name: str) -> None:
    put_cluster(f"{name}-up", 1)
    put_cluster(f"{name}-down", 300)
    header, *rows = cli("clusters").stdout.splitlines()
    assert ["NAME", "STATUS", "VIP", "NODES", "CPU(FREE/ALLOC)", "MEMORY(FREE/ALLOC)", "HEARTBEAT"] == header.split()
    by_name = {r.split()[0]: r.split() for r in rows}
    assert ["Ready", "127.0.9.1", "3/3", "16.5/24", "96Gi/96Gi"] == by_name[f"{name}-up"][1:6]
    assert "Unreachable" == by_name[f"{name}-down"][1]
    wide = cli("get", "clusters", "-o", "wide").stdout.splitlines()[0].split()
    assert ["REGION", "ZONE", "PROVIDER", "STORAGE-CLASSES", "LABELS"] == wide[-5:]
    assert f"{name}-up" == json.loads(cli("get", "clusters", f"{name}-up", "-o", "json").stdout)["name"]


def test_wide_clusters_show_labels_as_kubectl_does(
    cli: Callable[..., Any], put_cluster: ClusterWriter, name: str
) -> None:
    """-o wide ends with LABELS, ``key=value`` pairs sorted and comma-separated, ``<none>`` when there are none."""
    put_cluster(f"{name}-lab", 1, {"tier": "gold", "topology.kubernetes.io/region": "eu-west"})
    put_cluster(f"{name}-bare", 1)
    rows = {r.split()[0]: r.split() for r in cli("get", "clusters", "-o", "wide").stdout.splitlines()[1:]}
    assert "tier=gold,topology.kubernetes.io/region=eu-west" == rows[f"{name}-lab"][-1]
    assert "<none>" == rows[f"{name}-bare"][-1]


def test_events_of_one_instance(cli: Callable[..., Any], served: ServedGateway, name: str) -> None:
    key = InstanceKey(served.tenant, "default", Kind.MULTICLOUD_MONGODB, name)
    served.run(
        events.emit(served.bus.js, key, reason="Elected", message="member-2 holds the primary", component="federation")
    )
    header, *rows = cli("events", name).stdout.splitlines()
    assert ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "FROM", "MESSAGE"] == header.split()
    assert any("Elected" in r and "member-2 holds the primary" in r for r in rows)


def test_the_stack_in_dot_fedstate_is_found(
    served: ServedGateway, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FEDSTATE_SERVER", raising=False)
    save_state(StackPaths(tmp_path / ".fedstate"), StackState(api_url=served.url, nats_url="nats://unused"))
    assert 0 == CliRunner().invoke(app, ["get", "mcm", "-A", "-o", "json"]).exit_code


def test_server_flag_wins_over_the_environment(served: ServedGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEDSTATE_SERVER", "http://127.0.0.1:1")
    for args in (["--server", served.url, "get", "mcm"], ["get", "mcm", "--server", served.url]):
        assert 0 == CliRunner().invoke(app, args).exit_code
