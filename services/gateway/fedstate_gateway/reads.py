"""Reading user objects back from fs-spec and fs-status, in the shape Kubernetes shows them."""

from __future__ import annotations

from fedstate.api import KubeList, KubeObject, Resource
from fedstate.bus.names import spec_filter
from fedstate.bus.objects import StoredObject
from fedstate.bus.store import Entry

from .context import GatewayContext
from .errors import not_found
from .views import object_view


async def _view(context: GatewayContext, resource: Resource, entry: Entry[StoredObject]) -> KubeObject:
    status = await context.connected_bus.status.get(entry.value.key.status_key)
    return object_view(resource, entry.value, status.value if status else None, entry.revision)


async def read_object(context: GatewayContext, resource: Resource, namespace: str, name: str) -> KubeObject:
    """The object with its status; a Kubernetes 404 when fs-spec has no such key."""
    entry = await context.connected_bus.spec.get(context.key(resource, namespace, name).spec_key)
    if entry is None:
        raise not_found(resource, name)
    return await _view(context, resource, entry)


async def exists(context: GatewayContext, resource: Resource, namespace: str, name: str) -> bool:
    return await context.connected_bus.spec.get(context.key(resource, namespace, name).spec_key) is not None


async def list_objects(context: GatewayContext, resource: Resource, namespace: str | None) -> KubeList:
    """Every object of one kind in one namespace (or all), sorted by namespace and name."""
    pattern = spec_filter(context.settings.tenant, resource.bus_kind, namespace)
    entries = await context.connected_bus.spec.entries(pattern)
    entries.sort(key=lambda e: (e.value.metadata.namespace, e.value.metadata.name))
    items = [await _view(context, resource, entry) for entry in entries]
    return KubeList(api_version=resource.api_version, kind=resource.list_kind, metadata={}, items=items)
