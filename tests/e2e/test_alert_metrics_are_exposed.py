"""Every metric the shipped alert rules name is served by a running stack, and the federation's instance
series describe a real replica set: one PRIMARY, a majority that survives the loss of any one cluster, its
election; once the instance is deleted its series are gone from the next scrape."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from fedstate.api.resources import MULTICLOUD_MONGODB
from fedstate.cli.localstack import LocalStack

from .invariants import Series, apply, scrape, wait_gone, wait_settled, wait_until

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "fedstate-alerts.yml"
NAME = "telemetry"


def metrics_named_by_the_rules() -> set[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {name for group in groups for rule in group["rules"] for name in re.findall(r"fedstate_\w+", rule["expr"])}


def of_instance(series: Series, metric: str) -> dict[str, float]:
    """``metric``'s samples of this test's instance, by cluster ("" for per-instance series)."""
    return {
        dict(labels).get("cluster", ""): value
        for (name, labels), value in series.items()
        if name == metric and dict(labels).get("multicloudmongodb") == NAME
    }


def test_the_rules_name_only_metrics_the_stack_serves_and_instance_series_follow_the_set(stack: LocalStack) -> None:
    apply(stack, NAME, "{replicaset: 3}")
    wait_settled(stack, NAME)
    # The orchestrator's status can be Health a moment before the agents' views show the election term.
    wait_until(lambda: bool(of_instance(scrape(stack)[1], "fedstate_instance_elections_total")), "the election seen")
    names, series = scrape(stack)

    assert set() == metrics_named_by_the_rules() - names
    assert {"": 1.0} == of_instance(series, "fedstate_instance_primaries")
    assert [1.0] == list(of_instance(series, "fedstate_instance_primary_info").values())
    survives = of_instance(series, "fedstate_instance_survives_cluster_loss")
    assert 3 == len(survives) and {1.0} == set(survives.values())
    assert {"": 2.0} == of_instance(series, "fedstate_instance_voters_majority")
    assert 1 <= of_instance(series, "fedstate_instance_elections_total")[""]
    assert 0 < of_instance(series, "fedstate_instance_last_election_timestamp_seconds")[""]
    assert 3.0 == sum(of_instance(series, "fedstate_instance_members").values())
    # Each agent counts its own cluster's members, for a scraper that reaches only that cluster.
    seen_by_agents = [
        v
        for (name, labels), v in series.items()
        if name == "fedstate_agent_members" and dict(labels).get("multicloudmongodb") == NAME
    ]
    assert 3.0 == sum(seen_by_agents)
    ready = {dict(labels)["cluster"]: v for (name, labels), v in series.items() if name == "fedstate_cluster_ready"}
    assert {"member-1": 1.0, "member-2": 1.0, "member-3": 1.0} == ready

    stack.gateway.delete_object(MULTICLOUD_MONGODB, "default", NAME)
    wait_gone(stack, NAME)
    wait_until(lambda: not any(dict(k[1]).get("multicloudmongodb") == NAME for k in scrape(stack)[1]), "series gone")
