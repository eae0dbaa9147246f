"""``MongoDB`` custom resources on this member cluster's Kubernetes API (``mongodbs.middleware.fedstate.io``,
installed with ``deploy/k8s/crds.yaml``): read, finalizer, status subresource, watch."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from kubernetes.aio import client, watch
from kubernetes.aio.client.exceptions import ApiException

log = logging.getLogger(__name__)

GROUP = "middleware.fedstate.io"
VERSION = "v1alpha1"
PLURAL = "mongodbs"
FINALIZER = "fedstate.io/agent"
RETRY_SECONDS = 2.0
MAX_RETRY_SECONDS = 60.0


class MongoDBResources:
    def __init__(self, api: client.ApiClient) -> None:
        self.custom = client.CustomObjectsApi(api)

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
        """Enqueue (namespace, name) on every change, from one watch resumed at its last resourceVersion.

        While the CRD is not installed (or the API is down) the watch is retried with exponential backoff
        up to a minute, so a cluster without the CRD costs nothing to watch.
        """
        delay = RETRY_SECONDS
        while True:
            try:
                # No timeout: the client reconnects on its own, from the last resourceVersion it saw.
                async with watch.Watch() as stream:
                    async for event in stream.stream(self.custom.list_cluster_custom_object, GROUP, VERSION, PLURAL):
                        delay = RETRY_SECONDS
                        meta = (event.get("object") or {}).get("metadata") or {}
                        if meta.get("name"):
                            enqueue(meta.get("namespace", "default"), meta["name"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # no CRD yet, API down, 410 Gone: start over after a pause
                log.debug("MongoDB watch restarted", extra={"error": repr(exc), "retry_in": delay})
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_SECONDS)
