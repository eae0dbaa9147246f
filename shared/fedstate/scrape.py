"""Metrics rendered at scrape time from what a service already holds in memory.

A service that keeps every instance or cluster in a cache (fed by a watch) does not mirror it into
gauges on every change: a pure function turns the cache into ``Sample``s when Prometheus scrapes, so a
removed instance vanishes from the next scrape and no scrape reads the bus. Each service declares its
``Family``s once and registers one ``ScrapeCollector`` at import, like the module-level metrics of
``prometheus_client``; the running service points it at its samples.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from prometheus_client.core import REGISTRY, CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


@dataclass(frozen=True)
class Family:
    """One metric: its name (a counter's without ``_total``, which the exposition adds), help, label names."""

    name: str
    help: str
    labels: tuple[str, ...]
    kind: Literal["gauge", "counter"] = "gauge"

    def sample(self, value: float, **labels: str) -> Sample:
        return Sample(self, tuple(labels[name] for name in self.labels), float(value))

    def empty(self) -> CounterMetricFamily | GaugeMetricFamily:
        if self.kind == "counter":
            return CounterMetricFamily(self.name, self.help, labels=self.labels)
        return GaugeMetricFamily(self.name, self.help, labels=self.labels)


@dataclass(frozen=True)
class Sample:
    family: Family
    label_values: tuple[str, ...]
    value: float

    @property
    def labels(self) -> dict[str, str]:
        return dict(zip(self.family.labels, self.label_values, strict=True))


Source = Callable[[], Iterable[Sample]]


class ScrapeCollector(Collector):
    """Exposes ``families``, filled from ``source`` at each scrape (none while no service runs)."""

    def __init__(self, families: Sequence[Family]) -> None:
        self.families = tuple(families)
        self.source: Source | None = None

    def describe(self) -> Iterator[Metric]:
        return (family.empty() for family in self.families)

    def collect(self) -> Iterator[Metric]:
        metrics = {family.name: family.empty() for family in self.families}
        for sample in self.source() if self.source is not None else ():
            metrics[sample.family.name].add_metric(list(sample.label_values), sample.value)
        return iter(metrics.values())


def registered(families: Sequence[Family]) -> ScrapeCollector:
    """A collector for ``families``, registered with the default registry (served on ``/metrics``)."""
    collector = ScrapeCollector(families)
    REGISTRY.register(collector)
    return collector
