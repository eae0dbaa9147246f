"""Metrics rendered at scrape time from what a service already holds in memory.

A service that keeps every instance or cluster in a cache (fed by a watch) does not mirror it into
gauges on every change: a pure function turns the cache into ``Sample``s when Prometheus scrapes, so a
removed instance vanishes from the next scrape and no scrape reads the bus. Each service declares its
``Family``s once and registers one ``ScrapeCollector`` at import, like the module-level metrics of
``prometheus_client``; the running service points it at its samples (``serve``).

At fleet size the text of a thousand instances' samples is most of a scrape's cost, and in a steady fleet it is
the same text every time: a service that can tell when its samples may have changed (``version``) has them
rendered once per change, not once per scrape (``exposition``, what ``/metrics`` serves).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from prometheus_client import generate_latest
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
# What the samples are derived from, in a value that changes whenever they may: e.g. the caches' change counts.
Version = Callable[[], Hashable]


class ScrapeCollector(Collector):
    """Exposes ``families``, filled from ``source`` at each scrape (none while no service runs)."""

    def __init__(self, families: Sequence[Family]) -> None:
        self.families = tuple(families)
        self.source: Source | None = None
        self.version: Version | None = None
        self._rendered: tuple[Hashable, bytes] | None = None  # the version last rendered, and its text

    def serve(self, source: Source | None, version: Version | None = None) -> None:
        """Fill the families from ``source`` (None: leave them empty), rendered again only when ``version``
        changes (None: at every scrape)."""
        self.source, self.version, self._rendered = source, version, None

    def describe(self) -> Iterator[Metric]:
        return (family.empty() for family in self.families)

    def collect(self) -> Iterator[Metric]:
        metrics = {family.name: family.empty() for family in self.families}
        for sample in self.source() if self.source is not None else ():
            metrics[sample.family.name].add_metric(list(sample.label_values), sample.value)
        return iter(metrics.values())

    def exposition(self) -> bytes:
        """The families in Prometheus' text format, from the last rendering while ``version`` is what it was."""
        version = self.version() if self.version is not None else None
        if version is not None and self._rendered is not None and self._rendered[0] == version:
            return self._rendered[1]
        text = generate_latest(self)
        self._rendered = None if version is None else (version, text)
        return text


# Apart from the default registry: ``exposition`` renders each of them by its own version.
COLLECTORS: list[ScrapeCollector] = []


def registered(families: Sequence[Family]) -> ScrapeCollector:
    """A collector for ``families``, served on ``/metrics`` after the default registry's (``exposition``)."""
    collector = ScrapeCollector(families)
    COLLECTORS.append(collector)
    return collector


def exposition() -> bytes:
    """What ``/metrics`` serves: the default registry's metrics, then every scrape collector's."""
    return generate_latest(REGISTRY) + b"".join(collector.exposition() for collector in COLLECTORS)
