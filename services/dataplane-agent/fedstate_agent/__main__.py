"""``python -m fedstate_agent``: reconcile this member cluster's DataPlaneSpecs.

The agent reads only ``fs-dataplane.<its cluster>.>`` and writes only ``fs-observed.<its cluster>.>``
and its lease ``fs-leases.dataplane-agent.<its cluster>`` (and, for the ``MongoDB`` objects of single-cluster mode,
``fs-status`` and ``fs-local-objects.<its cluster>.>``); it talks to its own Kubernetes API and to the members.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
from kubernetes.aio import client
from kubernetes.aio.client import CoreV1Api

from fedstate.bus.cache import KVCache
from fedstate.bus.connection import Bus
from fedstate.bus.names import Kind, LeaseHolder, cluster_filter, parse_dataplane_key, spec_filter
from fedstate.bus.store import Entry, KeyChange
from fedstate.informer import KubeDict
from fedstate.kube import api_answers, api_client, list_raw
from fedstate.liveness import renew_lease
from fedstate.reconcile import Controller
from fedstate.sealing import PinnedKeys, SealingError, ensure_key_file
from fedstate.service import pump, run_member_clusters
from fedstate.settings import AgentSettings, load_settings

from . import metrics
from .customresources import MongoDBResources
from .kubeobjects import KubeObjects, instance_of, of_single_cluster_mongodb
from .reconciler import AgentReconciler
from .single import SingleClusterReconciler, cr_key

log = logging.getLogger(__name__)
VIP_RETRY_SECONDS = 0.5
MAX_VIP_RETRY_SECONDS = 8.0


async def discover_vip(api: client.ApiClient) -> str:
    """The address members are reached at from outside: the first node ExternalIP. An agent started while its
    cluster's API does not answer (the cluster failed) waits for it instead of exiting: nothing may restart it,
    and in a process serving several clusters one failed cluster would take the others' agents down too."""
    delay = VIP_RETRY_SECONDS
    while True:
        try:
            nodes = await list_raw(CoreV1Api(api), "list_node")
            break
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            log.warning(
                "the cluster's API does not answer; asking again", extra={"error": repr(exc), "retry_in": delay}
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_VIP_RETRY_SECONDS)
    for node in nodes:
        for address in node.get("status", {}).get("addresses", []):
            if address.get("type") == "ExternalIP":
                return str(address["address"])
    raise RuntimeError("no node has an ExternalIP: set FEDSTATE_VIP to the cluster's external address")


def pinned_federation_keys(settings: AgentSettings) -> PinnedKeys:
    """The federation keys this agent trusts, as it was given them; it does not start without them."""
    try:
        return PinnedKeys(settings.pinned_federation_keys_file())
    except SealingError as exc:
        raise SystemExit(f"error: {exc}") from None


async def body(bus: Bus, stack: AsyncExitStack, settings: AgentSettings) -> None:
    ring = ensure_key_file(settings.sealing_key_file())
    trusted = pinned_federation_keys(settings)
    api = await api_client(settings.kubeconfig, settings.kube_context)
    stack.push_async_callback(api.close)
    vip = settings.vip or await discover_vip(api)
    controller = Controller(f"agent-{settings.cluster}", lambda key: reconciler.reconcile(key))
    stack.push_async_callback(controller.close)
    single_controller = Controller(f"agent-{settings.cluster}-single", lambda key: single.reconcile(key))
    stack.push_async_callback(single_controller.close)
    # This cluster's specs and reports, in memory: a pass reads them there; every change enqueues its key.
    # Observed reports whose spec is gone (we were down during a delete) are torn down too.
    dataplane = KVCache(
        bus.dataplane, cluster_filter(settings.cluster), on_change=_enqueue_to(controller), index_by=_instance_name
    )
    observed = KVCache(bus.observed, cluster_filter(settings.cluster), on_change=_enqueue_to(controller))
    metrics.follow(observed)

    def object_changed(obj: KubeDict) -> None:
        """A change of one of our Kubernetes objects: look again at the instance it belongs to."""
        owner = instance_of(obj)
        if owner is None:
            return
        if of_single_cluster_mongodb(obj):
            single_controller.enqueue(cr_key(*owner))
            return
        for entry in dataplane.indexed("/".join(owner)):
            controller.enqueue(entry.key)

    kube = KubeObjects(api, object_changed)
    reconciler = AgentReconciler(bus, kube, settings, vip, dataplane, observed, ring, trusted)
    stack.push_async_callback(reconciler.mongo.close)
    reconciler.enqueue = controller.enqueue
    resources = MongoDBResources(api)
    single = SingleClusterReconciler(bus, kube, resources, settings, reconciler.members, ring, trusted)
    single.enqueue = single_controller.enqueue
    mongodb_keys = spec_filter(settings.tenant, Kind.MONGODB)
    following = asyncio.ensure_future(kube.follow())
    stack.callback(following.cancel)
    for cache in (dataplane, observed):
        await cache.start()
        stack.push_async_callback(cache.stop)
    # Single-cluster objects whose status outlived their spec are torn down too.
    await asyncio.gather(
        following,
        # Alive is said on a fixed period, never by rewriting unchanged reports.
        renew_lease(
            bus.leases,
            LeaseHolder.AGENT,
            settings.cluster,
            settings.heartbeat_seconds,
            api_answers(api, settings.failure_threshold_seconds / 2),
            (ring.public_key, ring.fingerprint),
        ),
        pump(bus.spec.watch(mongodb_keys), single_controller, lambda change: change.key),
        pump(bus.status.watch(mongodb_keys), single_controller, lambda change: change.key),
        # Once, at start: the mirrors this cluster published, whose resource may have gone while we were down.
        pump(bus.local.watch(cluster_filter(settings.cluster), follow=False), single_controller, mirrored_key),
        resources.follow(lambda namespace, name: single_controller.enqueue(cr_key(namespace, name))),
    )


def _enqueue_to(controller: Controller) -> Callable[[str, Entry[Any] | None], None]:
    def enqueue(key: str, entry: Entry[Any] | None) -> None:
        controller.enqueue(key, entry.headers if entry is not None else None)

    return enqueue


def _instance_name(key: str) -> str:
    """``namespace/name`` of a data-plane key: how our Kubernetes objects name their instance."""
    instance = parse_dataplane_key(key)[1]
    return f"{instance.namespace}/{instance.name}"


def mirrored_key(change: KeyChange) -> str:
    """The custom resource a ``fs-local-objects`` key mirrors."""
    instance = parse_dataplane_key(change.key)[1]
    return cr_key(instance.namespace, instance.name)


def main() -> None:
    settings = load_settings(AgentSettings)
    for each in settings.each_cluster():
        ensure_key_file(each.sealing_key_file())  # refused at once when no directory is set
        pinned_federation_keys(each)  # or no federation key is given
    run_member_clusters("agent", settings, lambda each: lambda bus, stack: body(bus, stack, each))


if __name__ == "__main__":
    main()
