"""``fedstate up --with-prometheus`` runs this Prometheus: it finds every service of the stack through the targets
file, scrapes them all, loads every shipped alert rule and evaluates them without error; and every query of the
shipped Grafana dashboards (deploy/grafana/) returns data for the seed sample and names only served metrics."""

from __future__ import annotations

import json
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fedstate.cli.demo import sample_path
from fedstate.cli.localstack import LocalStack
from fedstate.cli.memberaccess import source_file
from fedstate.cli.processes import spawn, stop
from fedstate.cli.prometheus import RULES, is_ready, prometheus_launch
from fedstate.cli.records import load_state
from fedstate.natsserver import free_port

from .invariants import scrape, wait_until

DASHBOARDS = Path(__file__).resolve().parents[2] / "deploy" / "grafana"
SAMPLE = "multicloudmongodb-sample"
# What Grafana puts in a query before Prometheus sees it: the instance dashboard pointed at the seed sample.
VARIABLES = {
    "$__rate_interval": "1m",
    "$tenant": "default",
    "$namespace": "default",
    "$multicloudmongodb": SAMPLE,
}


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


def dashboard_queries() -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target and every ``label_values`` variable of every shipped dashboard, with
    the variables filled in as Grafana fills them."""
    queries: list[tuple[str, str]] = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            queries += [(f"{path.name}: {panel['title']}", target["expr"]) for target in panel["targets"]]
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":  # label_values(selector, label): the selector must match series
                selector = re.fullmatch(r"label_values\((.+), *\w+\)", variable["query"]["query"])
                assert selector is not None, f"{path.name}: variable {variable['name']} is not label_values(...)"
                queries.append((f"{path.name}: ${variable['name']}", selector.group(1)))
    for name, value in VARIABLES.items():
        queries = [(where, query.replace(name, value)) for where, query in queries]
    return queries


def returning_nothing(url: str, queries: list[tuple[str, str]]) -> list[str]:
    """The queries Prometheus answers with no series (an error fails the test at once)."""
    empty = []
    for where, query in queries:
        with urllib.request.urlopen(f"{url}/api/v1/query?{urllib.parse.urlencode({'query': query})}") as answer:
            body = json.loads(answer.read())
        assert "success" == body["status"], f"{where}: {query}: {body}"
        if not body["data"]["result"]:
            empty.append(f"{where}: {query}")
    return empty


def test_every_dashboard_query_returns_data_and_names_only_served_metrics(stack: LocalStack, prometheus: str) -> None:
    queries = dashboard_queries()
    assert len(queries) >= 30 and not any("$" in query for _, query in queries)
    stack.cli("apply", "-f", str(sample_path().resolve()))
    stack.wait_for_state(SAMPLE, "Health")
    served, _ = scrape(stack)
    named = {name for _, query in queries for name in re.findall(r"\bfedstate_\w+", query)}
    assert [] == sorted(named - served), "metrics no service exposes"
    # Rates need two scrapes in their window, and the lag its first replSetGetStatus: poll, then say which.
    deadline = time.monotonic() + 90
    while (empty := returning_nothing(prometheus, queries)) and time.monotonic() < deadline:
        time.sleep(2)
    assert [] == empty, "dashboard queries with no data"
