"""The bridged custom resources on the control-plane cluster's API, with the official client: read, finalizer,
status subresource, Events. Every write names the resourceVersion it was computed from, so a write over a newer
object is refused (409) instead of clobbering it."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from typing import Any

from kubernetes.aio import client
from kubernetes.aio.client import CoreV1Api, CustomObjectsApi
from kubernetes.aio.client.exceptions import ApiException

from fedstate.api.resources import Resource
from fedstate.models.base import utcnow

from .bridged import CustomResource

COMPONENT = "fedstate-crd-bridge"


class Gone(Exception):
    """The custom resource is not there (any more)."""


async def _unless_changed(write: Awaitable[Any]) -> bool:
    """Run a write that names a resourceVersion: False when the object changed since (409), ``Gone`` when it is
    not there any more."""
    try:
        await write
    except ApiException as exc:
        if exc.status == 404:
            raise Gone from None
        if exc.status == 409:
            return False
        raise
    return True


class CustomResources:
    def __init__(self, api: client.ApiClient) -> None:
        self.custom = CustomObjectsApi(api)
        self.core = CoreV1Api(api)

    @staticmethod
    def _where(resource: Resource) -> tuple[str, str]:
        group, _, version = resource.api_version.rpartition("/")
        return group, version

    async def get(self, resource: Resource, namespace: str, name: str) -> CustomResource | None:
        group, version = self._where(resource)
        try:
            found = await self.custom.get_namespaced_custom_object(group, version, namespace, resource.plural, name)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return CustomResource(resource, dict(found))  # type: ignore[call-overload]

    async def set_finalizers(self, cr: CustomResource, finalizers: list[str]) -> bool:
        """Replace the finalizers of the custom resource as read; False when it changed since (a conflict)."""
        group, version = self._where(cr.resource)
        body = {"metadata": {"finalizers": finalizers, "resourceVersion": cr.metadata.get("resourceVersion")}}
        patch = self.custom.patch_namespaced_custom_object
        return await _unless_changed(patch(group, version, cr.namespace, cr.resource.plural, cr.name, body))

    async def replace_status(self, cr: CustomResource, status: dict[str, Any]) -> bool:
        """Write the status of the custom resource as read (its resourceVersion); False on a conflict."""
        group, version = self._where(cr.resource)
        body = {**cr.body, "status": status}
        replace = self.custom.replace_namespaced_custom_object_status
        return await _unless_changed(replace(group, version, cr.namespace, cr.resource.plural, cr.name, body))

    async def warn(self, cr: CustomResource, reason: str, message: str) -> None:
        """A Warning Event on the custom resource, as ``kubectl describe`` shows them."""
        now = utcnow()
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{cr.name}.{uuid.uuid4().hex[:16]}", "namespace": cr.namespace},
            "involvedObject": {
                "apiVersion": cr.resource.api_version,
                "kind": cr.resource.kind,
                "namespace": cr.namespace,
                "name": cr.name,
                "uid": cr.uid,
                "resourceVersion": cr.metadata.get("resourceVersion"),
            },
            "reason": reason,
            "message": message,
            "type": "Warning",
            "source": {"component": COMPONENT},
            "firstTimestamp": now.isoformat(),
            "lastTimestamp": now.isoformat(),
            "count": 1,
            "reportingComponent": COMPONENT,
        }
        await self.core.create_namespaced_event(cr.namespace, event)  # type: ignore[arg-type]
