"""Writes go through the intake (request/reply on NATS); the gateway never writes fs-spec itself.

Before asking the intake, the gateway checks what only it can know: that the body agrees
with the path (kind, namespace, name) and which member cluster a ``MongoDB`` targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError
from pydantic import ValidationError

from fedstate import telemetry
from fedstate.api import MONGODB, KubeObject, KubeStatus, Resource, StatusDetails
from fedstate.api.resources import CLUSTER_ANNOTATION, SOURCE_ANNOTATION, SOURCE_CUSTOM_RESOURCE
from fedstate.bus import intake
from fedstate.bus.intake import IntakeFailed, IntakeReply, IntakeRequest
from fedstate.bus.limits import MAX_OBJECT_BYTES, object_size, too_large
from fedstate.bus.objects import StoredObject

from .bodies import Patch
from .context import GatewayContext, audit_log
from .errors import ApiError, not_found, refused, status_error
from .positions import Position
from .reads import exists, local_objects, read_object, status_of, stored_object
from .views import object_view

# A patch without a resourceVersion of its own applies to the latest object: on a conflict it is read again.
PATCH_ATTEMPTS = 5


@dataclass(frozen=True)
class Target:
    """Where a write is aimed: the path's namespace, the path's name (PUT/DELETE) and ``?cluster=``."""

    resource: Resource
    namespace: str
    name: str | None = None
    cluster: str | None = None


@dataclass(frozen=True)
class Applied:
    object: KubeObject
    outcome: str  # created | updated | unchanged, as the intake said

    @property
    def created(self) -> bool:
        return self.outcome == "created"


def _metadata(body: dict[str, Any]) -> dict[str, Any]:
    metadata = body.setdefault("metadata", {})
    if not isinstance(metadata, dict):
        raise status_error(400, "metadata must be an object")
    return metadata


def conform(body: dict[str, Any], target: Target) -> dict[str, Any]:
    """Fill kind, apiVersion and namespace from the path; refuse a body that contradicts the path."""
    resource = target.resource
    body = {
        **body,
        "kind": body.get("kind") or resource.kind,
        "apiVersion": body.get("apiVersion") or resource.api_version,
    }
    if body["kind"] != resource.kind or body["apiVersion"] != resource.api_version:
        message = f"{body['apiVersion']}/{body['kind']} cannot be written to {resource.plural} ({resource.api_version})"
        raise status_error(400, message, resource=resource)
    metadata = _metadata(body)
    metadata.setdefault("namespace", target.namespace)
    if metadata["namespace"] != target.namespace:
        raise status_error(400, "the namespace of the object does not match the namespace on the request path")
    if target.name is not None and metadata.setdefault("name", target.name) != target.name:
        message = f"the name of the object ({metadata['name']}) does not match the name on the URL ({target.name})"
        raise status_error(400, message, resource=resource, name=target.name)
    return body


def target_cluster(body: dict[str, Any], target: Target) -> str | None:
    """``?cluster=`` wins over the ``fedstate.io/cluster`` annotation; only single-cluster kinds have one."""
    if not target.resource.cluster_scoped_target:
        return None
    annotations = body.get("metadata", {}).get("annotations") or {}
    return target.cluster or annotations.get(CLUSTER_ANNOTATION)


_TRACER = telemetry.tracer("fedstate.gateway")


def _written(request: IntakeRequest) -> tuple[str, str, str]:
    """The kind, namespace and name a write is about."""
    metadata = (request.object or {}).get("metadata") or {}
    kind = request.kind or (request.object or {}).get("kind")
    return str(kind), str(request.namespace or metadata.get("namespace")), str(request.name or metadata.get("name"))


def _audit(context: GatewayContext, request: IntakeRequest, outcome: str) -> None:
    """Who did what: one line per write, whatever came of it."""
    kind, namespace, name = _written(request)
    caller = context.caller
    audit_log.info(
        "write",
        extra={
            "token_id": caller.id,
            "token_name": caller.name,
            "role": str(caller.role),
            "tenant": context.tenant,
            "verb": request.op,
            "object": f"{kind}/{namespace}/{name}",
            "outcome": outcome,
        },
    )


async def _ask(context: GatewayContext, request: IntakeRequest) -> IntakeReply:
    """Send a write to the intake; its span starts the trace that follows the change to the member clusters."""
    kind, namespace, name = _written(request)
    attributes = {
        "fedstate.operation": request.op,
        "fedstate.kind": kind,
        "fedstate.namespace": namespace,
        "fedstate.name": name,
    }
    outcome = "failed"
    try:
        with _TRACER.start_as_current_span(f"{request.op} {kind}", attributes=attributes):
            reply = await intake.request(
                context.gateway.connected_bus.nc,
                request,
                tenant=context.tenant,
                timeout=context.gateway.settings.intake_timeout_seconds,
                federation_public_keys=context.gateway.settings.federation_public_key_file,
            )
            outcome = reply.outcome or "done"
            return reply
    except IntakeFailed as failed:
        outcome = f"refused ({failed.error.code} {failed.error.reason})"
        raise
    except (NoRespondersError, NatsTimeoutError):
        outcome = "intake unavailable"
        message = "the intake (federation service) did not answer; is fedstate_federation running?"
        raise status_error(503, message) from None
    finally:
        _audit(context, request, outcome)


async def _object_of(context: GatewayContext, reply: IntakeReply, target: Target, name: str) -> KubeObject:
    """The stored object from the reply, with its status; read back from fs-spec when the reply has none."""
    if reply.object is not None:
        try:
            stored = StoredObject.model_validate(reply.object)
        except ValidationError:
            return KubeObject.model_validate(reply.object)
        return object_view(target.resource, stored, await status_of(context, stored))
    return await read_object(context, target.resource, target.namespace, name)


async def _precondition(context: GatewayContext, body: dict[str, Any], target: Target, name: str) -> None:
    """A watch position as ``metadata.resourceVersion`` (an object from a watch event carries one) holds when the
    object's spec is unchanged since that position: the intake is then asked for its current revision, which it
    checks against the stored one as it writes."""
    metadata = body["metadata"]
    try:
        position = Position.parse(str(metadata.get("resourceVersion")))
    except ValueError:
        return  # none, or an fs-spec revision: the intake checks it
    entry = await stored_object(context, target.resource, target.namespace, name)
    if entry is not None and entry.revision <= position.spec:
        metadata["resourceVersion"] = str(entry.revision)


async def apply(context: GatewayContext, body: dict[str, Any], target: Target, *, create_only: bool) -> Applied:
    """Create (POST, refusing an existing name) or create-or-replace (PUT) through the intake."""
    body = conform(body, target)
    name = str(body["metadata"].get("name") or "")
    await _precondition(context, body, target, name)
    if (size := object_size(body)) > MAX_OBJECT_BYTES:
        message = too_large(f'{target.resource.kind} "{name}"', size)
        raise status_error(413, message, resource=target.resource, name=name or None)
    if create_only and name and await exists(context, target.resource, target.namespace, name):
        message = f'{target.resource.plural}.{target.resource.group} "{name}" already exists'
        raise status_error(409, message, reason="AlreadyExists", resource=target.resource, name=name)
    request = IntakeRequest(op="apply", object=body, target_cluster=target_cluster(body, target))
    try:
        reply = await _ask(context, request)
    except IntakeFailed as failed:
        raise refused(failed, target.resource, name or None) from None
    return Applied(await _object_of(context, reply, target, name), outcome=reply.outcome or "updated")


def _conflict(error: ApiError) -> bool:
    return error.status.code == 409 and error.status.reason == "Conflict"


async def patch(context: GatewayContext, target: Target, change: Patch) -> Applied:
    """The object as read now with ``change`` applied, written as a PUT is (same checks, same intake)."""
    assert target.name is not None
    for attempt in range(1, PATCH_ATTEMPTS + 1):
        current = await read_object(context, target.resource, target.namespace, target.name, target.cluster)
        if (current.metadata.get("annotations") or {}).get(SOURCE_ANNOTATION) == SOURCE_CUSTOM_RESOURCE:
            raise _custom_resource_elsewhere(target, [str(_target_of(current))], "patch")
        before = current.to_wire()
        body = change.applied_to(before)
        body.pop("status", None)  # written by the federation only, as a status subresource's is
        pinned = (body.get("metadata") or {}).get("resourceVersion") != before["metadata"].get("resourceVersion")
        try:
            return await apply(context, body, target, create_only=False)
        except ApiError as error:
            if pinned or not _conflict(error) or attempt == PATCH_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _target_of(obj: KubeObject) -> str | None:
    return (obj.metadata.get("annotations") or {}).get(CLUSTER_ANNOTATION)


def _custom_resource_elsewhere(target: Target, clusters: list[str], verb: str) -> ApiError:
    """A 405 for a MongoDB created on a member cluster's own API: it is changed there, not through the federation."""
    message = (
        f'{target.resource.qualified_plural} "{target.name}" is a custom resource of cluster {", ".join(clusters)}:'
        f" {verb} it there (kubectl --context {clusters[0]} {verb} mongodb {target.name})"
    )
    return status_error(405, message, resource=target.resource, name=target.name)


async def _check_deletable(context: GatewayContext, target: Target) -> None:
    """A Kubernetes 404 for an object that does not exist; a 405 for a MongoDB created on a member cluster's
    own API, which is deleted there, not through the federation."""
    assert target.name is not None
    if await exists(context, target.resource, target.namespace, target.name):
        return
    local = await local_objects(context, target.namespace, target.name) if target.resource is MONGODB else []
    clusters = [str(m.object.target_cluster) for m in local]
    if clusters:
        raise _custom_resource_elsewhere(target, clusters, "delete")
    raise not_found(target.resource, target.name)


async def delete(context: GatewayContext, target: Target) -> KubeObject | KubeStatus:
    """Ask the intake to delete; return the object (now carrying deletionTimestamp) or a success Status."""
    assert target.name is not None
    await _check_deletable(context, target)
    request = IntakeRequest(
        op="delete",
        kind=target.resource.kind,
        namespace=target.namespace,
        name=target.name,
    )
    reply = await _ask(context, request)
    if reply.object is not None:
        return await _object_of(context, reply, target, target.name)
    details = StatusDetails(name=target.name, group=target.resource.group, kind=target.resource.plural)
    return KubeStatus(status="Success", code=200, reason=reply.outcome or "Deleted", details=details)


async def recover(context: GatewayContext, target: Target, *, force: bool) -> KubeObject:
    """Ask the intake to record a forced recovery of an instance that lost its voting majority; the intake
    refuses it without ``force`` (422) and while a majority is reachable (409)."""
    assert target.name is not None
    if not await exists(context, target.resource, target.namespace, target.name):
        raise not_found(target.resource, target.name)
    request = IntakeRequest(
        op="recover", kind=target.resource.kind, namespace=target.namespace, name=target.name, force=force
    )
    reply = await _ask(context, request)
    return await _object_of(context, reply, target, target.name)
