"""``python -m fedstate_collector``: publish this member cluster's ClusterSnapshot to ``fs-clusters``.

A snapshot goes out on every change of nodes or pods (debounced) and at least every
heartbeat period, which is how the rest of the federation knows the cluster is alive. Its labels
come from the nodes, the cluster's ``ClusterProperty`` objects and the settings (``labels.py``);
a changed ClusterProperty is published with the next heartbeat.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from importlib.metadata import version
from typing import Any

from kubernetes.aio import client, watch
from kubernetes.aio.client.exceptions import ApiException
from prometheus_client import Counter, Gauge

from fedstate.bus.connection import Bus
from fedstate.kube import api_client, list_raw
from fedstate.models.base import utcnow
from fedstate.service import run
from fedstate.settings import load_settings

from .labels import cluster_labels, property_labels
from .settings import CollectorSettings
from .snapshot import build_snapshot

log = logging.getLogger(__name__)
DEBOUNCE_SECONDS = 0.3
SNAPSHOTS = Counter("fedstate_collector_snapshots_total", "Snapshots published", ["cluster"])
COLLECT_ERRORS = Counter("fedstate_collector_errors_total", "Failed collections", ["cluster"])
FREE_CPU = Gauge("fedstate_cluster_free_cpu_cores", "Free CPU summed over nodes, in cores", ["cluster"])
MILLICORES_PER_CORE = 1000
# ClusterProperty (KEP-2149): v1beta1 is the current version, v1alpha1 what older installs serve.
PROPERTY_GROUP, PROPERTY_VERSIONS, PROPERTY_PLURAL = "about.k8s.io", ("v1beta1", "v1alpha1"), "clusterproperties"


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

    async def publish_once(self) -> None:
        nodes, pods, classes, services, properties = await asyncio.gather(
            list_raw(self.core, "list_node"),
            list_raw(self.core, "list_pod_for_all_namespaces"),
            list_raw(self.storage, "list_storage_class"),
            list_raw(self.core, "list_service_for_all_namespaces"),
            self.cluster_properties(),
        )
        snapshot = build_snapshot(
            cluster=self.settings.cluster,
            vip=self.settings.vip,
            nodes=nodes,
            pods=pods,
            storage_classes=classes,
            services=services,
            labels=cluster_labels(nodes, self._labels_of(properties), self.settings.cluster_labels),
            agent_version=version("fedstate"),
            now=utcnow(),
        )
        await self.bus.clusters.put(self.settings.cluster, snapshot)
        SNAPSHOTS.labels(self.settings.cluster).inc()
        free_millicores = sum(n.free_cpu_millis for n in snapshot.nodes)
        FREE_CPU.labels(self.settings.cluster).set(free_millicores / MILLICORES_PER_CORE)

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

    async def heartbeat(self) -> None:
        while True:
            try:
                await self.publish_once()
            except Exception as exc:  # the API server may be down: keep trying, never die
                COLLECT_ERRORS.labels(self.settings.cluster).inc()
                log.warning("collection failed", extra={"cluster": self.settings.cluster, "error": repr(exc)})
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), timeout=self.settings.heartbeat_seconds)
                await asyncio.sleep(DEBOUNCE_SECONDS)
            except TimeoutError:
                pass

    async def follow(self, list_call: object) -> None:
        """Set ``changed`` on every event of a watch; restart the watch when it ends or fails."""
        while True:
            try:
                async with watch.Watch() as stream:
                    async for _ in stream.stream(list_call, timeout_seconds=60):
                        self.changed.set()
            except Exception as exc:
                log.debug("watch restarted", extra={"error": repr(exc)})
                await asyncio.sleep(self.settings.heartbeat_seconds)


async def body(bus: Bus, stack: AsyncExitStack, settings: CollectorSettings) -> None:
    api = await api_client(settings.kubeconfig, settings.kube_context)
    stack.push_async_callback(api.close)
    collector = Collector(bus, api, settings)
    await asyncio.gather(
        collector.heartbeat(),
        collector.follow(collector.core.list_pod_for_all_namespaces),
        collector.follow(collector.core.list_node),
    )


def main() -> None:
    settings = load_settings(CollectorSettings)
    run(f"collector-{settings.cluster}", settings, lambda bus, stack: body(bus, stack, settings))


if __name__ == "__main__":
    main()
