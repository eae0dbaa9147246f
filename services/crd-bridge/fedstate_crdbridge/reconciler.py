"""One pass over one custom resource: finalizer, submission through the intake, status written back, deletion.

Reads come from memory (the informers of the custom resources, the caches of what the federation holds); a
write to the custom resource that meets a newer one (409) is retried on a fresh read, so no status computed
from an older object ever replaces a newer spec's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nats.aio.client import Client

from fedstate.api.resources import Resource
from fedstate.bus import intake
from fedstate.bus.cache import KVCache
from fedstate.bus.intake import IntakeError, IntakeFailed, IntakeRequest
from fedstate.bus.names import InstanceKey
from fedstate.bus.objects import StatusRecord, StoredObject
from fedstate.bus.validation import Refused, validate
from fedstate.informer import KubeDict
from fedstate.models.base import utcnow
from fedstate.reconcile import Result, resync_after

from .bridged import (
    BRIDGED,
    FINALIZER,
    CustomResource,
    bridged_generation,
    is_bridged,
    needs_submitting,
    refused_generation,
    refused_status,
    submission,
    synced_status,
)
from .customresources import CustomResources, Gone

log = logging.getLogger(__name__)
FRESH_READS = 5  # conflicting writes in a row before the pass gives up (and is retried with backoff)
BY_PLURAL = {resource.plural: resource for resource in BRIDGED}
BY_BUS_KIND = {resource.bus_kind: resource for resource in BRIDGED}


def cr_key(resource: Resource, namespace: str, name: str) -> str:
    """A controller key: ``multicloudmongodbs/<namespace>/<name>``."""
    return f"{resource.plural}/{namespace}/{name}"


def key_of_instance(instance: InstanceKey) -> str:
    return cr_key(BY_BUS_KIND[instance.kind], instance.namespace, instance.name)


class Stale(Exception):
    """The custom resource changed since it was read: read it again."""


@dataclass
class BridgeReconciler:
    nc: Client
    resources: CustomResources
    # The custom resource as the informers hold it (kind, namespace, name), None when not there.
    cached: Callable[[Resource, str, str], KubeDict | None]
    specs: dict[Resource, KVCache[StoredObject]]
    statuses: dict[Resource, KVCache[StatusRecord]]
    tenant: str
    resync_seconds: float
    federation_public_keys: Path | None = None  # what a custom resource's secrets are sealed to on the bus

    async def reconcile(self, key: str) -> Result:
        plural, namespace, name = key.split("/")
        resource = BY_PLURAL[plural]
        body = self.cached(resource, namespace, name)
        for _ in range(FRESH_READS):
            if body is None:
                return Result()  # gone: our finalizer kept it until the federation had let it go
            cr = CustomResource(resource, body)
            if not is_bridged(resource, body) and FINALIZER not in cr.finalizers:
                return Result()
            try:
                return await self._pass(cr)
            except Stale:
                fresh = await self.resources.get(resource, namespace, name)
                body = fresh.body if fresh else None
            except Gone:
                return Result()
        raise RuntimeError(f"{key} kept changing under {FRESH_READS} writes in a row")

    def _stored(self, instance: InstanceKey, resource: Resource) -> StoredObject | None:
        entry = self.specs[resource].get(instance.spec_key)
        return entry.value if entry else None

    async def _pass(self, cr: CustomResource) -> Result:
        instance = cr.instance(self.tenant)
        stored = self._stored(instance, cr.resource)
        if cr.deleting:
            return await self._delete(cr, instance, stored)
        if FINALIZER not in cr.finalizers:
            await self._set_finalizers(cr, [*cr.finalizers, FINALIZER])
            return Result()  # the finalizer's write comes back from the watch, and with it the next pass
        if needs_submitting(cr, stored):
            if refused_generation(cr):
                return Result()  # told once; a new generation is looked at again
            submitted = await self._submit(cr)
            if submitted is None:
                return Result()
            stored = submitted
        assert stored is not None
        record = self.statuses[cr.resource].get(instance.status_key)
        await self._write_status(cr, synced_status(cr, stored, record.value if record else None, utcnow()))
        return resync_after(self.resync_seconds)

    async def _submit(self, cr: CustomResource) -> StoredObject | None:
        """Check the object as the intake will, then ask the intake to apply it; None when it was refused."""
        request = IntakeRequest(op="apply", object=submission(cr))
        try:
            validate(request, self.tenant)  # nothing the intake would refuse for its shape reaches the bus
            reply = await intake.request(
                self.nc, request, tenant=self.tenant, federation_public_keys=self.federation_public_keys
            )
        except (Refused, IntakeFailed) as refused:
            await self._refused(cr, refused.error)
            return None
        await self.specs[cr.resource].catch_up()  # the next pass sees what was stored, and submits it no more
        assert reply.object is not None
        return StoredObject.model_validate(reply.object)

    async def _refused(self, cr: CustomResource, error: IntakeError) -> None:
        if error.reason == "Conflict" or error.code >= 500:
            raise IntakeFailed(error)  # the federation's state moved, or it failed: try again later
        # The Event first: the status marks the generation as told, and a pass that failed in between tells again.
        await self.resources.warn(cr, "Invalid", error.message)
        await self._write_status(cr, refused_status(cr, error.message, utcnow()))
        log.info("refused", extra={"object": f"{cr.namespace}/{cr.name}", "error": error.message})

    async def _delete(self, cr: CustomResource, instance: InstanceKey, stored: StoredObject | None) -> Result:
        """Ask the intake to delete; the finalizer goes only once the federation has let the object go (its
        spec leaves ``fs-spec`` after every member cluster reported its members gone)."""
        if FINALIZER not in cr.finalizers:
            return Result()
        if bridged_generation(stored, cr.uid) is None:
            stored = None  # nothing of this custom resource is held (never accepted, or another writer's object)
        if stored is not None:
            if not stored.deleting:
                request = IntakeRequest(op="delete", kind=cr.resource.kind, namespace=cr.namespace, name=cr.name)
                try:
                    await intake.request(self.nc, request, tenant=self.tenant)
                except IntakeFailed as failed:
                    if failed.error.code != 404:
                        raise
                return Result()  # the deleting mark comes back from the cache, and with it the next pass
            record = self.statuses[cr.resource].get(instance.status_key)
            await self._write_status(cr, synced_status(cr, stored, record.value if record else None, utcnow()))
            return Result()  # the spec's removal comes back from the cache
        await self._set_finalizers(cr, [f for f in cr.finalizers if f != FINALIZER])
        return Result()

    async def _set_finalizers(self, cr: CustomResource, finalizers: list[str]) -> None:
        if not await self.resources.set_finalizers(cr, finalizers):
            raise Stale

    async def _write_status(self, cr: CustomResource, status: KubeDict) -> None:
        if status != cr.status and not await self.resources.replace_status(cr, status):
            raise Stale
