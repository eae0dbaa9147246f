"""``python -m fedstate_collector``: publish this member cluster's ClusterSnapshot to ``fs-clusters``.

A snapshot is written only when what it says changes — nodes, pods, storage classes, services,
labels — never because time passed (``observedAt`` aside, an unchanged snapshot is not written again).
Nodes and pods are watched (each watch resumes from the last resourceVersion it saw, so its restarts
replay nothing); what is not watched (ClusterProperty, StorageClass, Service) is looked at again every
``FEDSTATE_RESYNC_SECONDS``. Labels come from the nodes, the cluster's ``ClusterProperty`` objects and
the settings (``labels.py``).

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

from kubernetes.aio import client, watch
from kubernetes.aio.client.exceptions import ApiException
from prometheus_client import Counter, Gauge

from fedstate.bus.connection import Bus
from fedstate.bus.names import LeaseHolder
from fedstate.kube import api_answers, api_client, list_raw
from fedstate.liveness import renew_lease, until_next_beat
from fedstate.models.base import utcnow
from fedstate.models.cluster import ClusterSnapshot
from fedstate.service import run_member_clusters
from fedstate.settings import load_settings

from .labels import cluster_labels, property_labels
from .settings import CollectorSettings
from .snapshot import build_snapshot

log = logging.getLogger(__name__)
DEBOUNCE_SECONDS = 0.3
WATCH_SECONDS = 300  # a watch is re-opened this often, from where it was
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
        self.skipped: dict[str, str] = {}
        self.forbidden_logged = False
        self.api_answers = api_answers(api, settings.failure_threshold_seconds / 2)
        self.seeing = False  # the last look at the cluster succeeded
        self.seeing_again = asyncio.Event()  # a look succeeded after a failed one: renew the lease now

    async def publish_once(self) -> bool:
        """Look at the cluster; write the snapshot unless ``fs-clusters`` already says the same. True if written."""
        snapshot = await self.observe()
        free_millicores = sum(n.free_cpu_millis for n in snapshot.nodes)
        FREE_CPU.labels(self.settings.cluster).set(free_millicores / MILLICORES_PER_CORE)
        if same_content(await self._stored(), snapshot):
            return False
        await self.bus.clusters.put(self.settings.cluster, snapshot)
        SNAPSHOTS.labels(self.settings.cluster).inc()
        return True

    async def _stored(self) -> ClusterSnapshot | None:
        try:
            entry = await self.bus.clusters.get(self.settings.cluster)
        except ValueError:
            return None  # unreadable: overwrite it
        return entry.value if entry else None

    async def observe(self) -> ClusterSnapshot:
        """The snapshot of what the cluster's API lists now."""
        nodes, pods, classes, services, properties = await asyncio.gather(
            list_raw(self.core, "list_node"),
            list_raw(self.core, "list_pod_for_all_namespaces"),
            list_raw(self.storage, "list_storage_class"),
            list_raw(self.core, "list_service_for_all_namespaces"),
            self.cluster_properties(),
        )
        return build_snapshot(
            cluster=self.settings.cluster,
            vip=self.settings.vip,
            nodes=nodes,
            pods=pods,
            storage_classes=classes,
            services=services,
            labels=cluster_labels(nodes, self._labels_of(properties), self.settings.cluster_labels),
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

    async def look(self) -> None:
        """Publish what changed; on failure, keep trying, never die (the API server may be down)."""
        self.changed.clear()  # before the lists: a change during them is looked at again
        try:
            await self.publish_once()
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
        """Look again on every change of nodes or pods (debounced), every resync period, and soon after a
        failed look."""
        while True:
            # On shared beats, as the leases (``until_next_beat``): the clusters of a process look together.
            every = self.settings.resync_seconds if self.seeing else self.settings.heartbeat_seconds
            wait = until_next_beat(time.time(), every)
            try:
                await asyncio.wait_for(self.changed.wait(), timeout=wait)
                await asyncio.sleep(DEBOUNCE_SECONDS)
            except TimeoutError:
                pass
            await self.look()

    async def run(self) -> None:
        """The first look, then: changes, resyncs, watches, and the lease every look period.

        The cluster's frequent heartbeat is its agent's lease; the collector's says, once per look period,
        that its snapshot is still looked after (decision 0023)."""
        await self.look()
        cluster, every = self.settings.cluster, self.settings.resync_seconds
        await asyncio.gather(
            self.publish_changes(),
            renew_lease(
                self.bus.leases, LeaseHolder.COLLECTOR, cluster, every, self.can_vouch, renew_now=self.seeing_again
            ),
            self.follow(self.core.list_pod_for_all_namespaces),
            self.follow(self.core.list_node),
        )

    async def follow(self, list_call: object) -> None:
        """Set ``changed`` on every change a watch reports. A watch re-opened resumes from the last
        resourceVersion it saw; only a first one, or one whose version expired (410), starts with every
        object (ADDED), which is then one more look."""
        # One Watch for the life of the task (each builds a client); its objects stay plain dicts.
        stream = watch.Watch(return_type="object")
        resource_version: str | None = None
        try:
            while True:
                options: dict[str, Any] = {"timeout_seconds": WATCH_SECONDS, "allow_watch_bookmarks": True}
                if resource_version:
                    options["resource_version"] = resource_version
                try:
                    async for event in stream.stream(list_call, **options):
                        if event["type"] != "BOOKMARK":
                            self.changed.set()
                    resource_version = stream.resource_version
                except ApiException as exc:
                    resource_version = None
                    if exc.status != 410:  # expired: start again at once, with every object
                        log.debug("watch restarted", extra={"error": repr(exc)})
                        await asyncio.sleep(self.settings.heartbeat_seconds)
                except Exception as exc:
                    resource_version = stream.resource_version
                    log.debug("watch restarted", extra={"error": repr(exc)})
                    await asyncio.sleep(self.settings.heartbeat_seconds)
        finally:
            await stream.close()


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
