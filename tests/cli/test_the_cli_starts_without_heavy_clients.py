"""The CLI starts fast because it imports what a command needs only when that command runs: importing
``fedstate.cli.main`` (``--help``), ``get`` and ``describe`` load neither the Kubernetes client, pymongo, nats,
FastAPI, nor httpx (whose package imports its own command line); ``--help`` loads no pydantic either
(typer 0.28 parses options without it: docs/decisions/0007), and neither do the commands that only read and
show the gateway's answers (``get`` in every output, ``describe`` of every kind, ``events``, ``clusters``), nor
``apply``: they read its JSON through ``fedstate.api.views``. The time itself is measured by bench/cli_start.py."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from served_gateway import ServedGateway

from fedstate.bus import events
from fedstate.bus.names import InstanceKey, Kind
from fedstate.models.placement import ClusterAssignment, ClusterVerdict, Placement

HEAVY = ("kubernetes", "pymongo", "nats", "fastapi", "starlette", "uvicorn", "httpx", "aiohttp", "opentelemetry")
# What reading no object needs: a command that only prints help or parses its flags never validates a model.
MODEL_FREE = (*HEAVY, "pydantic", "pydantic_core")
API_VERSION = "middleware.fedstate.io/v1alpha1"


def imported(*args: str) -> set[str]:
    """Top-level packages a fresh ``python -m fedstate.cli ARGS`` imported (from ``-X importtime``); it must succeed."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "fedstate.cli", *args], capture_output=True, text=True, timeout=60
    )
    lines = run.stderr.splitlines()
    assert 0 == run.returncode, [line for line in lines if not line.startswith("import time:")]
    names = (line.rpartition("|")[2].strip() for line in lines if line.startswith("import time:"))
    return {name.split(".")[0] for name in names}


def test_importing_the_cli_loads_no_heavy_client() -> None:
    code = "import sys, json, fedstate.cli.main; print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    loaded = set(
        json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    )
    assert set() == loaded & {*MODEL_FREE, "rich", "jsonpath_ng", "yaml"}


@pytest.mark.parametrize("args", [["--help"], ["get", "--help"], ["describe", "--help"], ["up", "--help"]])
def test_help_loads_no_heavy_client_nor_pydantic(args: list[str]) -> None:
    assert set() == imported(*args) & set(MODEL_FREE)


@pytest.fixture
def objects(cli: Callable[..., Any], served: ServedGateway, name: str) -> str:
    """A MultiCloudMongoDB ``name`` with a placement and repeated events, a MongoDB ``name-db``, a ConfigMap ``name``."""
    manifests = [
        {"apiVersion": API_VERSION, "kind": "MultiCloudMongoDB", "metadata": {"name": name}, "spec": {"replicaset": 3}},
        {"apiVersion": API_VERSION, "kind": "MongoDB", "metadata": {"name": f"{name}-db"}, "spec": {"members": 1}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"mongod.conf": "net: {}\n"}},
    ]
    applied = cli("apply", "--cluster", "member-2", "-f", "-", input=yaml.safe_dump_all(manifests))
    assert 0 == applied.exit_code, applied.output
    key = InstanceKey(served.tenant, "default", Kind.MULTICLOUD_MONGODB, name)
    placement = Placement(
        spec_generation=1,
        mode="Uniform",
        clusters=[ClusterAssignment(cluster="member-1", replicas=3, voters=3)],
        verdicts=[ClusterVerdict(cluster="member-1", eligible=True, score=0.5)],
    )
    served.run(served.bus.placements.put(key.placement_key, placement))
    for _ in range(2):
        served.run(events.emit(served.bus.js, key, reason="Scheduled", message="placed 3", component="scheduler"))
    return name


READS = [
    ["get", "mcm"],
    ["get", "mcm", "NAME", "-o", "json"],
    ["get", "mcms", "-o", "wide"],
    ["get", "mcm", "-o", "yaml"],
    ["get", "mcm", "-o", "jsonpath={.items[*].metadata.name}"],
    ["get", "mongodb", "-A", "--cluster", "member-2"],
    ["get", "configmap", "NAME"],
    ["describe", "mcm", "NAME"],
    ["describe", "mongodb", "NAME-db"],
    ["describe", "configmap", "NAME"],
    ["events", "NAME"],
    ["clusters", "-o", "wide"],
]


@pytest.mark.parametrize("args", READS, ids=" ".join)
def test_reading_commands_load_no_heavy_client_nor_pydantic(
    args: list[str], served: ServedGateway, objects: str
) -> None:
    assert set() == imported("--server", served.url, *(a.replace("NAME", objects) for a in args)) & set(MODEL_FREE)


def test_describe_without_a_placement_loads_no_pydantic(
    cli: Callable[..., Any], served: ServedGateway, name: str
) -> None:
    """The gateway's 404 for a placement not made yet is an answer, not an error to parse."""
    body = {
        "apiVersion": API_VERSION,
        "kind": "MultiCloudMongoDB",
        "metadata": {"name": name},
        "spec": {"replicaset": 1},
    }
    cli("apply", "-f", "-", input=yaml.safe_dump(body))
    assert set() == imported("--server", served.url, "describe", "mcm", name) & set(MODEL_FREE)


def test_apply_loads_no_pydantic(served: ServedGateway, name: str, tmp_path: Path) -> None:
    """The gateway validates what is applied; the CLI only reads the file and the answer."""
    manifest = tmp_path / "mcm.yaml"
    body = {
        "apiVersion": API_VERSION,
        "kind": "MultiCloudMongoDB",
        "metadata": {"name": name},
        "spec": {"replicaset": 1},
    }
    manifest.write_text(yaml.safe_dump(body))
    assert set() == imported("--server", served.url, "apply", "-f", str(manifest)) & set(MODEL_FREE)
