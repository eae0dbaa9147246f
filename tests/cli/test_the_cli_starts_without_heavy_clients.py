"""The CLI starts fast because it imports what a command needs only when that command runs: importing
``fedstate.cli.main`` (``--help``), ``get`` and ``describe`` load neither the Kubernetes client, pymongo, nats,
FastAPI, nor httpx (whose package imports its own command line); ``--help`` loads no pydantic either
(typer 0.28 parses options without it: docs/decisions/0007). The time itself is measured by bench/cli_start.py."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from served_gateway import ServedGateway

HEAVY = ("kubernetes", "pymongo", "nats", "fastapi", "starlette", "uvicorn", "httpx", "aiohttp", "opentelemetry")
# What reading no object needs: a command that only prints help or parses its flags never validates a model.
MODEL_FREE = (*HEAVY, "pydantic", "pydantic_core")


def imported(*args: str) -> set[str]:
    """Top-level packages a fresh ``python -m fedstate.cli ARGS`` imported (from ``-X importtime``)."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "fedstate.cli", *args], capture_output=True, text=True, timeout=60
    )
    names = (line.rpartition("|")[2].strip() for line in run.stderr.splitlines() if line.startswith("import time:"))
    return {name.split(".")[0] for name in names}


def test_importing_the_cli_loads_no_heavy_client() -> None:
    code = "import sys, json, fedstate.cli.main; print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    loaded = set(
        json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    )
    assert set() == loaded & {*MODEL_FREE, "rich", "jsonpath_ng"}


@pytest.mark.parametrize("args", [["--help"], ["get", "--help"], ["describe", "--help"], ["up", "--help"]])
def test_help_loads_no_heavy_client_nor_pydantic(args: list[str]) -> None:
    assert set() == imported(*args) & set(MODEL_FREE)


def test_get_and_describe_load_no_heavy_client(cli: Callable[..., Any], served: ServedGateway, name: str) -> None:
    body = {"apiVersion": "middleware.fedstate.io/v1alpha1", "kind": "MultiCloudMongoDB", "metadata": {"name": name}}
    cli("apply", "-f", "-", input=yaml.safe_dump({**body, "spec": {"replicaset": 3}}))
    for args in (["get", "mcm"], ["describe", "mcm", name], ["get", "mcm", name, "-o", "json"]):
        assert set() == imported("--server", served.url, *args) & set(HEAVY), args
