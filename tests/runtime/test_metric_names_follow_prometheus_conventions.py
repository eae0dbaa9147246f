"""Every fedstate metric is named as Prometheus asks: ``fedstate_`` prefix, base units, ``_total`` counters."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest
from prometheus_client import REGISTRY
from prometheus_client.metrics_core import Metric

from fedstate.scrape import COLLECTORS

SERVICES = ("fedstate_collector", "fedstate_scheduler", "fedstate_federation", "fedstate_agent", "fedstate_gateway")
# Units Prometheus wants converted to its base units (seconds, bytes, cores, ratios) before they are exposed.
NOT_BASE_UNITS = re.compile(
    r"_(milli\w*|micro\w*|nano\w*|ms|us|ns|minutes?|hours?|days?|kb|mb|gb|kib|mib|gib|kilobytes|megabytes"
    r"|gigabytes|bits|percent|millicores)(_|$)"
)


def fedstate_metrics() -> list[Metric]:
    """Every metric the services define, after importing every module of every service that defines one."""
    for package in (importlib.import_module(name) for name in ("fedstate", *SERVICES)):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if module.name != "fedstate.cli.__main__":  # the one entry point that runs on import
                importlib.import_module(module.name)
    every = (*REGISTRY.collect(), *(metric for collector in COLLECTORS for metric in collector.describe()))
    return [m for m in every if m.name.startswith("fedstate")]


METRICS = fedstate_metrics()


def test_the_metrics_the_docs_name_are_found() -> None:
    """The walk sees the metrics of every service, so the rules below are checked against all of them."""
    names = {m.name for m in METRICS}
    assert {"fedstate_reconcile", "fedstate_gateway_requests", "fedstate_collector_snapshots"} <= names


@pytest.mark.parametrize("metric", METRICS, ids=[m.name for m in METRICS])
def test_names_use_base_units(metric: Metric) -> None:
    """``fedstate_cluster_free_cpu_cores``, not ``..._millis``; durations in ``_seconds``, sizes in ``_bytes``."""
    assert metric.name.startswith("fedstate_")
    assert NOT_BASE_UNITS.search(metric.name) is None, f"{metric.name}: expose base units (cores, seconds, bytes)"
    if metric.type == "histogram":
        assert metric.name.endswith("_seconds") or metric.name.endswith("_bytes"), metric.name


@pytest.mark.parametrize("metric", METRICS, ids=[m.name for m in METRICS])
def test_only_counters_end_in_total(metric: Metric) -> None:
    """prometheus_client adds ``_total`` to counters itself; a gauge named ``..._total`` would mislead."""
    assert metric.type == "counter" or not metric.name.endswith("_total"), metric.name
