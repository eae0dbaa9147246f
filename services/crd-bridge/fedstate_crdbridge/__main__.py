"""``python -m fedstate_crdbridge``: bridge one control-plane cluster's custom resources onto the bus.

It watches ``MultiCloudMongoDB`` custom resources, and ``MongoDB`` ones that name their member cluster
(``fedstate.io/cluster``), in every namespace or those of ``FEDSTATE_NAMESPACES``; submits them through the
intake; and writes their status back from ``fs-status``. Its bus user reads only its tenant's two kinds in
``fs-spec`` and ``fs-status`` and asks only its tenant's intake.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

from fedstate.api.resources import Resource
from fedstate.bus.cache import KVCache
from fedstate.bus.connection import Bus
from fedstate.bus.names import parse_spec_key, spec_filter
from fedstate.informer import Informer, KubeDict, object_key
from fedstate.kube import api_client
from fedstate.reconcile import Controller
from fedstate.service import run
from fedstate.settings import load_settings

from .bridged import BRIDGED, FINALIZER, is_bridged
from .customresources import CustomResources
from .reconciler import BridgeReconciler, cr_key, key_of_instance
from .settings import BridgeSettings

NAME = "crd-bridge"


def informers(custom: Any, settings: BridgeSettings, enqueue: Any) -> dict[tuple[str, str], Informer]:
    """One informer per bridged kind (per namespace when the settings name some), keyed by (plural, namespace);
    namespace "" for one over all namespaces."""

    def on_change(resource: Resource) -> Any:
        def changed(obj: KubeDict) -> None:
            namespace, name = object_key(obj)
            finalizers = (obj.get("metadata") or {}).get("finalizers") or []
            if name and (is_bridged(resource, obj) or FINALIZER in finalizers):
                enqueue(cr_key(resource, namespace or "default", name))

        return changed

    watched: dict[tuple[str, str], Informer] = {}
    for resource in BRIDGED:
        group, _, version = resource.api_version.rpartition("/")
        for namespace in settings.namespaces or [""]:
            args: tuple[str, ...] = (
                (group, version, namespace, resource.plural) if namespace else (group, version, resource.plural)
            )
            operation = "list_namespaced_custom_object" if namespace else "list_cluster_custom_object"
            watched[resource.plural, namespace] = Informer(custom, operation, "", on_change(resource), args=args)
    return watched


async def body(bus: Bus, stack: AsyncExitStack, settings: BridgeSettings) -> None:
    api = await api_client(settings.kubeconfig, settings.kube_context)
    stack.push_async_callback(api.close)
    controller = Controller(NAME, lambda key: reconciler.reconcile(key))
    stack.push_async_callback(controller.close)
    resources = CustomResources(api)
    watched = informers(resources.custom, settings, controller.enqueue)

    def cached(resource: Resource, namespace: str, name: str) -> KubeDict | None:
        informer = watched.get((resource.plural, namespace)) or watched.get((resource.plural, ""))
        return informer.get(namespace, name) if informer else None

    def federation_changed(key: str, _: Any) -> None:
        controller.enqueue(key_of_instance(parse_spec_key(key)))

    specs = {r: KVCache(bus.spec, spec_filter(settings.tenant, r.bus_kind), federation_changed) for r in BRIDGED}
    statuses = {r: KVCache(bus.status, spec_filter(settings.tenant, r.bus_kind), federation_changed) for r in BRIDGED}
    reconciler = BridgeReconciler(
        bus.nc,
        resources,
        cached,
        specs,
        statuses,
        settings.tenant,
        settings.resync_seconds,
        settings.federation_public_key_file,
    )
    # What the federation holds first: a pass compares each custom resource with it.
    caches: list[KVCache[Any]] = [*specs.values(), *statuses.values()]
    for cache in caches:
        await cache.start()
        stack.push_async_callback(cache.stop)
    await asyncio.gather(*(informer.run() for informer in watched.values()))


def main() -> None:
    settings = load_settings(BridgeSettings)
    run(NAME, settings, lambda bus, stack: body(bus, stack, settings))


if __name__ == "__main__":
    main()
