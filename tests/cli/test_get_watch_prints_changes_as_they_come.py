"""``fedstate get KIND -w`` prints the list, then each change as it comes, as ``kubectl get --watch`` does: a table's
header once and a row an event; ``-o name`` a line an event; a name or a selector narrows what is followed;
``get clusters -w`` prints each cluster, then each change of one."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import IO, Any

import httpx
import pytest
from served_gateway import ServedGateway

from fedstate.api import MULTICLOUD_MONGODB
from fedstate.bus.names import LeaseHolder, lease_key
from fedstate.models.cluster import ClusterSnapshot
from fedstate.models.lease import Lease

Watching = Callable[..., IO[str]]


def manifest(name: str, replicas: int = 3, labels: dict[str, str] | None = None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "labels": labels or {}}
    return {
        "apiVersion": MULTICLOUD_MONGODB.api_version,
        "kind": "MultiCloudMongoDB",
        "metadata": metadata,
        "spec": {"replicaset": replicas},
    }


def put(served: ServedGateway, body: dict[str, Any]) -> None:
    path = MULTICLOUD_MONGODB.item_path("default", body["metadata"]["name"])
    assert httpx.put(served.url + path, json=body, headers=served.headers).is_success


@pytest.fixture
def watching(served: ServedGateway) -> Iterator[Watching]:
    """Start ``fedstate get ARGS -w`` in its own process; its stdout, read line by line. Stopped at the end."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> IO[str]:
        command = [sys.executable, "-m", "fedstate.cli", "--server", served.url, "get", *args, "--watch"]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        started.append(process)
        assert process.stdout is not None
        return process.stdout

    yield start
    for process in started:
        process.terminate()
        process.wait(30)


def cells(line: str) -> list[str]:
    return line.split()


def test_a_table_prints_its_header_once_then_a_row_per_change(served: ServedGateway, watching: Watching) -> None:
    put(served, manifest("watched"))
    out = watching("mcm")
    assert ["NAME", "REPLICAS", "STATE", "PRIMARY", "AGE"] == cells(out.readline())
    assert ["watched", "3", "Pending"] == cells(out.readline())[:3]
    put(served, manifest("watched", replicas=5))
    assert ["watched", "5", "Pending"] == cells(out.readline())[:3]
    put(served, manifest("later"))
    assert ["later", "3", "Pending"] == cells(out.readline())[:3]


def test_a_name_or_a_selector_narrows_what_is_followed(served: ServedGateway, watching: Watching) -> None:
    by_name, by_label = watching("mcm", "picked", "-o", "name"), watching("mcm", "-l", "tier=db", "-o", "name")
    put(served, manifest("ignored", labels={"tier": "web"}))
    put(served, manifest("picked"))
    put(served, manifest("labelled", labels={"tier": "db"}))
    assert "multicloudmongodb.middleware.fedstate.io/picked" == by_name.readline().strip()
    assert "multicloudmongodb.middleware.fedstate.io/labelled" == by_label.readline().strip()


def test_clusters_print_every_one_then_each_change(served: ServedGateway, watching: Watching) -> None:
    """A cluster whose collector renews its lease is printed again at each heartbeat."""
    name = f"watched-{uuid.uuid4().hex[:6]}"
    served.run(
        served.bus.clusters.put(name, ClusterSnapshot(name=name, vip="127.0.9.7", observed_at=datetime.now(UTC)))
    )
    out = watching("clusters", name, "-o", "name")
    assert f"cluster/{name}" == out.readline().strip()
    lease = Lease(holder=name, component="collector", renewed_at=datetime.now(UTC), renew_every_seconds=5)
    served.run(served.bus.leases.put(lease_key(LeaseHolder.COLLECTOR, name), lease))
    assert f"cluster/{name}" == out.readline().strip()
    served.run(served.bus.clusters.delete(name))
