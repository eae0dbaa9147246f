"""``python -m fedstate_collector``: publish this member cluster's ClusterSnapshot to ``fs-clusters``.

A snapshot is written only when what it says changes — nodes, pods, storage classes, services,
labels — never because time passed (``observedAt`` aside, an unchanged snapshot is not written again).
Nodes, pods, Services and StorageClasses are read from informers (``fedstate.informer``: one list, then a
watch that resumes from the last resourceVersion), so a look costs memory reads, not lists, and only a
change of what the snapshot counts (``snapshot.pod_as_counted``, ...) calls for one. ClusterProperty, a
custom resource that may not be installed, is followed the same way, with an informer on its CRD that starts,
moves or stops the properties' own (``properties.py``). Labels come from the nodes, the cluster's
``ClusterProperty`` objects and the settings (``labels.py``).

Liveness never depends on data changing: every ``FEDSTATE_RESYNC_SECONDS`` (and at once when a look succeeds
after a failed one) the collector renews its lease ``fs-leases.collector.<cluster>``, while its cluster's API
answers and its last look succeeded. Readers take a cluster's frequent heartbeat from its agent's lease, as
long as this one says the snapshot is looked after (``fedstate.clusters``, decision 0023).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from contextlib import AsyncExitStack
from importlib.metadata import version
from typing import Any

from kubernetes.aio import client
from kubernetes.aio.client import CoreV1Api, StorageV1Api
from prometheus_client import Counter, Gauge

from fedstate.bus.connection import Bus
from fedstate.bus.names import LeaseHolder
from fedstate.informer import Informer
from fedstate.kube import api_answers, api_client
from fedstate.liveness import renew_lease, until_next_beat
from fedstate.models.base import utcnow
from fedstate.models.cluster import ClusterSnapshot
from fedstate.reconcile import OUTAGE_TOLD_EVERY_SECONDS
from fedstate.service import run_member_clusters
from fedstate.settings import load_settings

from .labels import cluster_labels, property_labels
from .properties import ClusterProperties
from .settings import CollectorSettings
from .snapshot import (
    build_snapshot,
    class_as_counted,
    node_as_counted,
    node_ports_of,
    pod_as_counted,
    quota_as_counted,
    spec_as_counted,
)

log = logging.getLogger(__name__)
DEBOUNCE_SECONDS = 0.3
EVERY_OBJECT = ""  # the label selector of the informers: the snapshot counts every node, pod, Service and class
SNAPSHOTS = Counter("fedstate_collector_snapshots_total", "Snapshots published (changed ones only)", ["cluster"])
COLLECT_ERRORS = Counter("fedstate_collector_errors_total", "Failed collections", ["cluster"])
FREE_CPU = Gauge("fedstate_cluster_free_cpu_cores", "Free CPU summed over nodes, in cores", ["cluster"])
MILLICORES_PER_CORE = 1000
# Read once: ``importlib.metadata`` searches the path and parses the package's metadata on every call.
OWN_VERSION = version("fedstate")


class Collector:
    def __init__(self, bus: Bus, api: client.ApiClient, settings: CollectorSettings) -> None:
        self.bus = bus
        self.settings = settings
        self.core = CoreV1Api(api)
        self.storage = StorageV1Api(api)
        self.changed = asyncio.Event()
        self.nodes = self._informer(self.core, "list_node", node_as_counted)
        self.pods = self._informer(self.core, "list_pod_for_all_namespaces", pod_as_counted)
        self.services = self._informer(self.core, "list_service_for_all_namespaces", node_ports_of)
        self.classes = self._informer(self.storage, "list_storage_class", class_as_counted)
        # Not among ``informers``: a cluster whose quotas cannot be read (a ClusterRole from before quotas were
        # read) is still seen, without them, rather than reported unreachable.
        self.quotas = self._informer(self.core, "list_resource_quota_for_all_namespaces", quota_as_counted)
        self.limit_ranges = self._informer(self.core, "list_limit_range_for_all_namespaces", spec_as_counted)
        self.properties = ClusterProperties(api, on_change=self.changed.set)
        self.published: ClusterSnapshot | None = None  # what fs-clusters holds, as this collector last saw it
        self.skipped: dict[str, str] = {}
        self.api_answers = api_answers(api, settings.failure_threshold_seconds / 2)
        self.seeing = False  # the last look at the cluster succeeded
        # Failed looks in a row, and when the last was logged as a warning: an outage is told when it starts, then
        # once per OUTAGE_TOLD_EVERY_SECONDS, not at every look (a look every few seconds for as long as it lasts).
        self.failures = 0
        self.failure_told_at = -math.inf
        self.seeing_again = asyncio.Event()  # a look succeeded after a failed one: renew the lease now

    def _informer(self, api: Any, operation: str, counted: Any) -> Informer:
        # A failure is a change too: the next look fails, and the lease is not vouched for while it lasts.
        changed = self.changed.set
        return Informer(
            api, operation, EVERY_OBJECT, lambda _: changed(), notable=counted, on_failure=lambda _: changed()
        )

    @property
    def quota_informers(self) -> tuple[Informer, ...]:
        return self.quotas, self.limit_ranges

    @property
    def informers(self) -> tuple[Informer, ...]:
        return self.nodes, self.pods, self.services, self.classes

    async def follow(self) -> None:
        """Keep the informers current, for the life of the collector."""
        informers = (*self.informers, *self.quota_informers)
        await asyncio.gather(self.properties.run(), *(informer.run() for informer in informers))

    async def publish_once(self) -> bool:
        """Look at the cluster as the informers hold it; write the snapshot unless ``fs-clusters`` already says
        the same. True if written."""
        snapshot = await self.observe()
        free_millicores = sum(n.free_cpu_millis for n in snapshot.nodes)
        FREE_CPU.labels(self.settings.cluster).set(free_millicores / MILLICORES_PER_CORE)
        if self.published is None:
            self.published = await self._stored()
        if same_content(self.published, snapshot):
            return False
        await self.bus.clusters.put(self.settings.cluster, snapshot)
        self.published = snapshot
        SNAPSHOTS.labels(self.settings.cluster).inc()
        return True

    async def _stored(self) -> ClusterSnapshot | None:
        try:
            entry = await self.bus.clusters.get(self.settings.cluster)
        except ValueError:
            return None  # unreadable: overwrite it
        return entry.value if entry else None

    async def observe(self) -> ClusterSnapshot:
        """The snapshot of what the informers hold, while each has listed the cluster and follows it."""
        failing = [f"{i.kind}: {i.failing}" for i in self.informers if i.failing]
        if failing:
            raise NotSeen("; ".join(failing))
        if not all(i.synced.is_set() for i in self.informers):
            raise NotListedYet(", ".join(i.kind for i in self.informers if not i.synced.is_set()))
        if not all(i.tried.is_set() for i in self.quota_informers):
            raise NotListedYet(", ".join(i.kind for i in self.quota_informers if not i.tried.is_set()))
        nodes = self.nodes.objects()
        return build_snapshot(
            cluster=self.settings.cluster,
            vip=self.settings.vip,
            nodes=nodes,
            pods=self.pods.objects(),
            storage_classes=self.classes.objects(),
            services=self.services.objects(),
            labels=cluster_labels(nodes, self._labels_of(self.properties.objects()), self.settings.cluster_labels),
            agent_version=OWN_VERSION,
            now=utcnow(),
            quotas=self.quotas.objects() if not self.quotas.failing else (),
            limit_ranges=self.limit_ranges.objects() if not self.limit_ranges.failing else (),
        )

    def _labels_of(self, properties: list[dict[str, Any]]) -> dict[str, str]:
        """The properties' labels; a property that makes no label is logged once, not on every heartbeat."""
        found = property_labels(properties)
        for name, reason in found.skipped.items():
            if self.skipped.get(name) != reason:
                log.info("ClusterProperty %s is not a cluster label: %s", name, reason)
        self.skipped = found.skipped
        return found.labels

    async def look(self) -> None:
        """Publish what changed; on failure, keep trying, never die (the API server may be down)."""
        self.changed.clear()  # before the look: a change during it is looked at again
        try:
            await self.publish_once()
            if not self.seeing:
                self.seeing_again.set()  # vouch for the cluster at once, not up to a lease period later
            self.seeing = True
            if self.failures:
                log.info("collection resumed", extra={"cluster": self.settings.cluster, "failures": self.failures})
            self.failures, self.failure_told_at = 0, -math.inf
        except NotListedYet as exc:  # a first list still on its way (a busy API at start): not a failure yet
            self.seeing = False
            log.info("waiting for the first lists", extra={"cluster": self.settings.cluster, "kinds": str(exc)})
        except Exception as exc:
            self.seeing = False
            COLLECT_ERRORS.labels(self.settings.cluster).inc()
            self.failures += 1
            extra = {"cluster": self.settings.cluster, "error": repr(exc), "failures": self.failures}
            if time.monotonic() - self.failure_told_at >= OUTAGE_TOLD_EVERY_SECONDS:
                self.failure_told_at = time.monotonic()
                log.warning("collection failed", extra=extra)
            else:
                log.debug("collection failed", extra=extra)

    async def can_vouch(self) -> bool:
        """May the lease be renewed: the last look succeeded and the API answers now."""
        return self.seeing and await self.api_answers()

    async def publish_changes(self) -> None:
        """Look again on every change an informer reports (debounced), and every resync period (a heartbeat
        after a failed look): from memory, a safety net that also tells the lease whether the cluster is seen."""
        while True:
            # On shared beats, as the leases (``until_next_beat``): the clusters of a process look together.
            every = self.settings.resync_seconds if self.seeing else self.settings.heartbeat_seconds
            wait = until_next_beat(time.time(), every)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):  # not ``wait_for``: on 3.11 it can swallow a cancellation
                    await self.changed.wait()
                await asyncio.sleep(DEBOUNCE_SECONDS)
            await self.look()

    async def run(self) -> None:
        """The first look, then: changes, resyncs, watches, and the lease every look period.

        The cluster's frequent heartbeat is its agent's lease; the collector's says, once per look period,
        that its snapshot is still looked after (decision 0023)."""
        following = asyncio.create_task(self.follow(), name=f"informers-{self.settings.cluster}")
        try:
            await self.synced(self.settings.heartbeat_seconds)
            await self.look()
            await asyncio.gather(self.publish_changes(), self.renew_lease(), following)
        finally:
            following.cancel()
            await asyncio.gather(following, return_exceptions=True)

    async def renew_lease(self) -> None:
        """Renew the lease every look period from the first look that sees the cluster: before it (a busy start,
        the first lists still on their way) there is nothing to vouch for, nor to warn about."""
        if not self.seeing:
            await self.seeing_again.wait()
        cluster, every = self.settings.cluster, self.settings.resync_seconds
        await renew_lease(
            self.bus.leases, LeaseHolder.COLLECTOR, cluster, every, self.can_vouch, renew_now=self.seeing_again
        )

    async def synced(self, timeout: float) -> None:
        """Wait until every informer has listed the cluster, and the ClusterProperty objects are listed or known
        not to be readable, at most ``timeout`` seconds (an API that does not answer yet makes the first look
        fail, and the next is tried a heartbeat later)."""
        waits: list[asyncio.Task[object]] = [asyncio.create_task(i.synced.wait()) for i in self.informers]
        waits.append(asyncio.create_task(self.properties.wait_settled()))
        _, pending = await asyncio.wait(waits, timeout=timeout)
        for task in pending:
            task.cancel()


class NotListedYet(Exception):
    """A look before every informer has listed the cluster: its first lists are still on their way."""


class NotSeen(Exception):
    """A look while an informer's list is failing (the API is down): what it holds may be old, so
    nothing is published and the lease is not vouched for."""


def same_content(stored: ClusterSnapshot | None, observed: ClusterSnapshot) -> bool:
    """Does the stored snapshot say what ``observed`` says, whenever each was observed?"""
    return stored is not None and stored.model_copy(update={"observed_at": observed.observed_at}) == observed


async def body(bus: Bus, stack: AsyncExitStack, settings: CollectorSettings) -> None:
    api = await api_client(settings.kubeconfig, settings.kube_context)
    stack.push_async_callback(api.close)
    await Collector(bus, api, settings).run()


def main() -> None:
    settings = load_settings(CollectorSettings)
    run_member_clusters("collector", settings, lambda each: lambda bus, stack: body(bus, stack, each))


if __name__ == "__main__":
    main()
