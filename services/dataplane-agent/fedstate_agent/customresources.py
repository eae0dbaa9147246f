"""``MongoDB`` custom resources on this member cluster's Kubernetes API (``mongodbs.middleware.fedstate.io``,
installed with ``deploy/k8s/crds.yaml``): read, finalizer, status subresource, watch."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from kubernetes.aio import client
from kubernetes.aio.client import ApiextensionsV1Api, CustomObjectsApi
from kubernetes.aio.client.exceptions import ApiException

from fedstate.informer import Informer, object_key

GROUP = "middleware.fedstate.io"
VERSION = "v1alpha1"
PLURAL = "mongodbs"
FINALIZER = "fedstate.io/agent"
CRD_NAME = f"{PLURAL}.{GROUP}"


class MongoDBResources:
    def __init__(self, api: client.ApiClient) -> None:
        self.custom = CustomObjectsApi(api)
        self.extensions = ApiextensionsV1Api(api)

    async def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            found = await self.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return dict(found)  # type: ignore[call-overload]

    async def set_finalizers(self, namespace: str, name: str, finalizers: list[str]) -> None:
        body = {"metadata": {"finalizers": finalizers}}
        try:
            await self.custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name, body)
        except ApiException as exc:
            if exc.status != 404:
                raise

    async def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        try:
            await self.custom.patch_namespaced_custom_object_status(
                GROUP, VERSION, namespace, PLURAL, name, {"status": status}
            )
        except ApiException as exc:
            if exc.status != 404:
                raise

    async def follow(self, enqueue: Callable[[str, str], None]) -> None:
        """Enqueue (namespace, name) on every change, from an informer (list, then one watch resumed at its
        last resourceVersion). While the CRD is not installed (or the API is down) it tries again after a pause
        that grows to a minute, with the agent's one client: a cluster without the CRD costs nothing to watch.
        A second informer watches for the CRD itself (one object, by name), so a CRD installed after the agent
        started is served at once, not after the rest of that pause."""

        def changed(obj: dict[str, Any]) -> None:
            namespace, name = object_key(obj)
            if name:
                enqueue(namespace or "default", name)

        resources = Informer(self.custom, "list_cluster_custom_object", "", changed, args=(GROUP, VERSION, PLURAL))
        definition = Informer(
            self.extensions,
            "list_custom_resource_definition",
            "",
            lambda _: resources.retry_now(),
            field_selector=f"metadata.name={CRD_NAME}",
        )
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(resources.run())
            tasks.create_task(definition.run())
