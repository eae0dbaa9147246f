"""Reading user objects back from fs-spec and fs-status, in the shape Kubernetes shows them.

``MongoDB`` objects come from two places: those applied through the bus (fs-spec + fs-status), and
custom resources created on a member cluster's own API, which that cluster's agent mirrors to
fs-local-objects. Both are listed; a name read on its own is looked up in fs-spec first.
Everything is read from the gateway's caches (``caches.py``), current as of the request.
"""

from __future__ import annotations

from fedstate.api import MONGODB, KubeList, KubeObject, Resource
from fedstate.bus.cache import KVCache
from fedstate.bus.names import local_objects_filter, spec_filter
from fedstate.bus.objects import LocalObject, StatusRecord, StoredObject
from fedstate.bus.store import Entry

from .context import GatewayContext
from .errors import not_found, status_error
from .filters import ObjectFilter
from .views import local_view, object_view


def _view(resource: Resource, entry: Entry[StoredObject], statuses: KVCache[StatusRecord]) -> KubeObject:
    status = statuses.get(entry.value.key.status_key)
    return object_view(resource, entry.value, status.value if status else None, entry.revision)


async def status_of(context: GatewayContext, stored: StoredObject) -> StatusRecord | None:
    entry = (await context.caches.status.current()).get(stored.key.status_key)
    return entry.value if entry else None


async def local_objects(context: GatewayContext, namespace: str | None, name: str | None = None) -> list[LocalObject]:
    """The mirrored ``MongoDB`` custom resources of every member cluster, by namespace, name and cluster."""
    pattern = local_objects_filter(context.tenant, namespace, name)
    found = [entry.value for entry in (await context.caches.local.current()).matching(pattern)]
    return sorted(found, key=lambda o: (o.object.metadata.namespace, o.object.metadata.name, o.object.target_cluster))


async def stored_object(
    context: GatewayContext, resource: Resource, namespace: str, name: str
) -> Entry[StoredObject] | None:
    return (await context.caches.spec.current()).get(context.key(resource, namespace, name).spec_key)


async def read_object(
    context: GatewayContext, resource: Resource, namespace: str, name: str, cluster: str | None = None
) -> KubeObject:
    """The object with its status; a Kubernetes 404 when neither fs-spec nor (for MongoDB) a cluster has it."""
    entry = await stored_object(context, resource, namespace, name)
    if entry is not None:
        return _view(resource, entry, await context.caches.status.current())
    if resource is MONGODB:
        mirrors = [
            m for m in await local_objects(context, namespace, name) if cluster in (None, m.object.target_cluster)
        ]
        if len(mirrors) == 1:
            return local_view(mirrors[0])
        if mirrors:
            clusters = ", ".join(str(m.object.target_cluster) for m in mirrors)
            message = (
                f'{resource.qualified_plural} "{name}" is a custom resource in several clusters ({clusters}): name one'
            )
            raise status_error(409, message + " with ?cluster=", reason="Conflict", resource=resource, name=name)
    raise not_found(resource, name)


async def exists(context: GatewayContext, resource: Resource, namespace: str, name: str) -> bool:
    return await stored_object(context, resource, namespace, name) is not None


async def list_objects(context: GatewayContext, resource: Resource, wanted: ObjectFilter) -> KubeList:
    """Every object of one kind that ``wanted`` selects, sorted by namespace and name; the list's resourceVersion
    is the position it was read at, from which a watch resumes (``positions.py``)."""
    objects = await context.caches.objects()  # nothing awaited below: one consistent moment
    pattern = spec_filter(context.tenant, resource.bus_kind, wanted.namespace)
    items = [_view(resource, entry, objects.status) for entry in objects.spec.matching(pattern)]
    if resource is MONGODB:
        local_pattern = local_objects_filter(context.tenant, wanted.namespace)
        local = sorted(
            (e.value for e in objects.local.matching(local_pattern)), key=lambda o: o.object.target_cluster or ""
        )
        items += [local_view(m) for m in local]
    items = [i for i in items if wanted.matches(i.metadata, i.status)]
    items.sort(key=lambda i: (i.namespace, i.name))
    metadata = {"resourceVersion": str(objects.feed.position)}
    return KubeList(api_version=resource.api_version, kind=resource.list_kind, metadata=metadata, items=items)
