"""``python -m fedstate_collector``: publish this member cluster's ClusterSnapshot to ``fs-clusters``.

A snapshot is written only when what it says changes — nodes, pods, storage classes, services,
labels — never because time passed (``observedAt`` aside, an unchanged snapshot is not written again).
Nodes, pods, Services and StorageClasses are read from informers (``fedstate.informer``: one list, then a
watch that resumes from the last resourceVersion), so a look costs memory reads, not lists, and only a
change of what the snapshot counts (``snapshot.pod_as_counted``, ...) calls for one. ClusterProperty, a
custom resource that may not be installed, is listed again every ``FEDSTATE_RESYNC_SECONDS``. Labels come
from the nodes, the cluster's ``ClusterProperty`` objects and the settings (``labels.py``).

Liveness never depends on data changing: every ``FEDSTATE_RESYNC_SECONDS`` (and at once when a look succeeds
after a failed one) the collector renews its lease ``fs-leases.collector.<cluster>``, while its cluster's API
answers and its last look succeeded. Readers take a cluster's frequent heartbeat from its agent's lease, as
long as this one says the snapshot is looked after (``fedstate.clusters``, decision 0023).
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import AsyncExitStack
from importlib.metadata import version
from typing import Any

from kubernetes.aio import client
from kubernetes.aio.client.exceptions import ApiException
from prometheus_client import Counter, Gauge

from fedstate.bus.connection import Bus
from fedstate.bus.names import LeaseHolder
from fedstate.informer import Informer
from fedstate.kube import api_answers, api_client, list_raw
from fedstate.liveness import renew_lease, until_next_beat
from fedstate.models.base import utcnow
from fedstate.models.cluster import ClusterSnapshot
from fedstate.service import run_member_clusters
from fedstate.settings import load_settings

from .labels import cluster_labels, property_labels
from .settings import CollectorSettings
from .snapshot import build_snapshot, class_as_counted, node_as_counted, node_ports_of, pod_as_counted

log = logging.getLogger(__name__)
DEBOUNCE_SECONDS = 0.3
EVERY_OBJECT = ""  # the label selector of the informers: the snapshot counts every node, pod, Service and class
SNAPSHOTS = Counter("fedstate_collector_snapshots_total", "Snapshots published (changed ones only)", ["cluster"])
COLLECT_ERRORS = Counter("fedstate_collector_errors_total", "Failed collections", ["cluster"])
FREE_CPU = Gauge("fedstate_cluster_free_cpu_cores", "Free CPU summed over nodes, in cores", ["cluster"])
MILLICORES_PER_CORE = 1000
# ClusterProperty (KEP-2149): v1beta1 is the current version, v1alpha1 what older installs serve.
PROPERTY_GROUP, PROPERTY_VERSIONS, PROPERTY_PLURAL = "about.k8s.io", ("v1beta1", "v1alpha1"), "clusterproperties"
# Read once: ``importlib.metadata`` searches the path and parses the package's metadata on every call.
OWN_VERSION = version("fedstate")


class Collector:
    def __init__(self, bus: Bus, api: client.ApiClient, settings: CollectorSettings) -> None:
        self.bus = bus
        self.settings = settings
        self.core = client.CoreV1Api(api)
        self.storage = client.StorageV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.changed = asyncio.Event()
        self.nodes = self._informer(self.core, "list_node", node_as_counted)
        self.pods = self._informer(self.core, "list_pod_for_all_namespaces", pod_as_counted)
        self.services = self._informer(self.core, "list_service_for_all_namespaces", node_ports_of)
        self.classes = self._informer(self.storage, "list_storage_class", class_as_counted)
        self.properties: list[dict[str, Any]] = []
        self.published: ClusterSnapshot | None = None  # what fs-clusters holds, as this collector last saw it
        self.skipped: dict[str, str] = {}
        self.forbidden_logged = False
        self.api_answers = api_answers(api, settings.failure_threshold_seconds / 2)
        self.seeing = False  # the last look at the cluster succeeded
        self.seeing_again = asyncio.Event()  # a look succeeded after a failed one: renew the lease now

    def _informer(self, api: Any, operation: str, counted: Any) -> Informer:
        return Informer(api, operation, EVERY_OBJECT, lambda obj: self.changed.set(), notable=counted)

    @property
    def informers(self) -> tuple[Informer, ...]:
        return self.nodes, self.pods, self.services, self.classes

    async def follow(self) -> None:
        """Keep the informers current, for the life of the collector."""
        await asyncio.gather(*(informer.run() for informer in self.informers))

    async def publish_once(self, *, properties: bool = True) -> bool:
        """Look at the cluster (listing its ClusterProperty objects again unless ``properties`` is False); write
        the snapshot unless ``fs-clusters`` already says the same. True if written."""
        if properties:
            self.properties = await self.cluster_properties()
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
        """The snapshot of what the informers hold, once each has listed the cluster."""
        if not all(informer.synced.is_set() for informer in self.informers):
            raise NotListedYet(", ".join(i.kind for i in self.informers if not i.synced.is_set()))
        nodes = self.nodes.objects()
        return build_snapshot(
            cluster=self.settings.cluster,
            vip=self.settings.vip,
            nodes=nodes,
            pods=self.pods.objects(),
            storage_classes=self.classes.objects(),
            services=self.services.objects(),
            labels=cluster_labels(nodes, self._labels_of(self.properties), self.settings.cluster_labels),
            agent_version=OWN_VERSION,
            now=utcnow(),
        )

    async def cluster_properties(self) -> list[dict[str, Any]]:
        """The ClusterProperty objects; none when that API is not installed, or not readable (logged once)."""
        for api_version in PROPERTY_VERSIONS:
            try:
                return await list_raw(
                    self.custom, "list_cluster_custom_object", PROPERTY_GROUP, api_version, PROPERTY_PLURAL
                )
            except ApiException as exc:
                if exc.status == 403:
                    self._forbidden_once()
                    return []
                if exc.status != 404:  # 404: this version, or the whole API, is not installed
                    raise
        return []

    def _forbidden_once(self) -> None:
        if not self.forbidden_logged:
            log.warning("may not list clusterproperties.about.k8s.io; cluster labels come from nodes and settings")
        self.forbidden_logged = True

    def _labels_of(self, properties: list[dict[str, Any]]) -> dict[str, str]:
        """The properties' labels; a property that makes no label is logged once, not on every heartbeat."""
        found = property_labels(properties)
        for name, reason in found.skipped.items():
            if self.skipped.get(name) != reason:
                log.info("ClusterProperty %s is not a cluster label: %s", name, reason)
        self.skipped = found.skipped
        return found.labels

    async def look(self, *, properties: bool = True) -> None:
        """Publish what changed; on failure, keep trying, never die (the API server may be down)."""
        self.changed.clear()  # before the look: a change during it is looked at again
        try:
            await self.publish_once(properties=properties)
            if not self.seeing:
                self.seeing_again.set()  # vouch for the cluster at once, not up to a lease period later
            self.seeing = True
        except Exception as exc:
            self.seeing = False
            COLLECT_ERRORS.labels(self.settings.cluster).inc()
            log.warning("collection failed", extra={"cluster": self.settings.cluster, "error": repr(exc)})

    async def can_vouch(self) -> bool:
        """May the lease be renewed: the last look succeeded and the API answers now."""
        return self.seeing and await self.api_answers()

    async def publish_changes(self) -> None:
        """Look again on every change an informer reports (debounced), and every resync period (soon after a
        failed look) with the ClusterProperty objects listed again."""
        while True:
            # On shared beats, as the leases (``until_next_beat``): the clusters of a process look together.
            every = self.settings.resync_seconds if self.seeing else self.settings.heartbeat_seconds
            wait = until_next_beat(time.time(), every)
            try:
                async with asyncio.timeout(wait):  # not ``wait_for``: on 3.11 it can swallow a cancellation
                    await self.changed.wait()
                await asyncio.sleep(DEBOUNCE_SECONDS)
            except TimeoutError:
                await self.look()
            else:
                await self.look(properties=not self.seeing)

    async def run(self) -> None:
        """The first look, then: changes, resyncs, watches, and the lease every look period.

        The cluster's frequent heartbeat is its agent's lease; the collector's says, once per look period,
        that its snapshot is still looked after (decision 0023)."""
        following = asyncio.create_task(self.follow(), name=f"informers-{self.settings.cluster}")
        try:
            await self.synced(self.settings.heartbeat_seconds)
            await self.look()
            cluster, every = self.settings.cluster, self.settings.resync_seconds
            lease = renew_lease(
                self.bus.leases, LeaseHolder.COLLECTOR, cluster, every, self.can_vouch, renew_now=self.seeing_again
            )
            await asyncio.gather(self.publish_changes(), lease, following)
        finally:
            following.cancel()
            await asyncio.gather(following, return_exceptions=True)

    async def synced(self, timeout: float) -> None:
        """Wait until every informer has listed the cluster, at most ``timeout`` seconds (an API that does not
        answer yet makes the first look fail, and the next is tried a heartbeat later)."""
        waits = [asyncio.create_task(informer.synced.wait()) for informer in self.informers]
        _, pending = await asyncio.wait(waits, timeout=timeout)
        for task in pending:
            task.cancel()


class NotListedYet(Exception):
    """A look before every informer has listed the cluster (its API has not answered yet)."""


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
