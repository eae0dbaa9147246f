"""``fedstate up --with-prometheus`` runs this Prometheus: it finds every service of the stack through the targets
file, scrapes them all, loads every shipped alert rule and evaluates them without error."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from fedstate.cli.localstack import LocalStack
from fedstate.cli.memberaccess import source_file
from fedstate.cli.processes import spawn, stop
from fedstate.cli.prometheus import RULES, is_ready, prometheus_launch
from fedstate.cli.records import load_state
from fedstate.natsserver import free_port

from .invariants import wait_until


@pytest.fixture
def prometheus(stack: LocalStack) -> Iterator[str]:
    """The stack's Prometheus, as ``up --with-prometheus`` starts it; its base URL."""
    port = free_port()
    launch = prometheus_launch(stack.paths, port, "127.0.0.1")
    _, record = spawn(launch, stack.paths.log("prometheus"))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: is_ready(url), "Prometheus ready", timeout=60)
        yield url
    finally:
        stop([record])


def api(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())["data"]


def scraped_services(url: str) -> set[str]:
    return {t["labels"]["service"] for t in api(f"{url}/api/v1/targets")["activeTargets"] if t["health"] == "up"}


def evaluated_rules(url: str) -> list[dict[str, Any]]:
    """Every alerting rule once each has been evaluated at least once."""
    return [
        r
        for g in api(f"{url}/api/v1/rules")["groups"]
        for r in g["rules"]
        if r.get("lastEvaluation", "").startswith("2")
    ]


def test_prometheus_scrapes_every_service_and_evaluates_every_rule(stack: LocalStack, prometheus: str) -> None:
    state = load_state(stack.paths)
    assert state is not None
    services = {p.name for p in state.processes if p.metrics_url}
    shipped = [r for g in yaml.safe_load(source_file(RULES).read_text())["groups"] for r in g["rules"]]
    wait_until(lambda: services == scraped_services(prometheus), "every service scraped", timeout=60)
    wait_until(lambda: len(evaluated_rules(prometheus)) == len(shipped), "every rule evaluated", timeout=60)
    rules = evaluated_rules(prometheus)
    assert [] == [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
    ready = api(f"{prometheus}/api/v1/query?query=fedstate_cluster_ready")["result"]
    assert {"member-1", "member-2", "member-3"} == {r["metric"]["cluster"] for r in ready if r["value"][1] == "1"}
