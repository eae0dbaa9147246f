"""The intake responder: the single writer of ``fs-spec``.

Requests arrive on ``fedstate.v1.intake.<tenant>`` from the gateway, the CLI, the
crd-bridge or any platform; the subject says whose objects they are. A bad request
gets an error reply, never a crash.
"""

from __future__ import annotations

import asyncio
import logging
import reprlib

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from prometheus_client import Counter
from pydantic import ValidationError

from fedstate import telemetry
from fedstate.api.resources import RESOURCES, Resource, lookup
from fedstate.bus.connection import Bus
from fedstate.bus.events import emit
from fedstate.bus.intake import IntakeError, IntakeReply, IntakeRequest
from fedstate.bus.names import (
    InstanceKey,
    LeaseHolder,
    intake_subject,
    intake_subject_all,
    intake_subject_template,
    intake_tenant,
    lease_key,
)
from fedstate.bus.objects import KIND_BY_NAME, StoredObject
from fedstate.bus.store import Conflict, Entry, Outcome
from fedstate.models.base import is_dns_label, utcnow
from fedstate.models.errors import FieldError, describe, field_errors
from fedstate.sealing import SecretNotSealed, open_request_secrets

from .domain.admission import (
    SHARES_NAMES_WITH,
    Refused,
    admit,
    check_resource_version,
    keep_secrets,
    mark_deleting,
    name_taken,
    record_recovery,
    shown,
    unknown_cluster,
    validate,
)
from .vault import Vault

log = logging.getLogger(__name__)
COMPONENT = "federation-intake"
CONCURRENCY = 16  # requests answered at once
REQUESTS = Counter(
    "fedstate_intake_requests", "Intake requests answered, by result (Accepted, or the error's reason)", ["result"]
)


async def serve_intake(bus: Bus, vault: Vault, concurrency: int = CONCURRENCY) -> Subscription:
    """Answer intake requests, ``concurrency`` at a time.

    nats-py runs a subscription's callback one message after the other: a burst of applies (a fleet of
    100 at once) then queued behind each other's KV round trips until the gateway gave up (503). Each
    request is answered in its own task instead; writes stay safe, each one a compare-and-set.
    """
    slots = asyncio.Semaphore(concurrency)
    answering: set[asyncio.Task[None]] = set()

    async def answer(msg: Msg) -> None:
        async with slots:
            with telemetry.processing(intake_subject_template(), msg.headers):
                reply = await handle(bus, msg.data, subject=msg.subject, vault=vault)
            await msg.respond(reply.model_dump_json(by_alias=True, exclude_none=True).encode())

    async def on_request(msg: Msg) -> None:
        task = asyncio.create_task(answer(msg))
        answering.add(task)  # a reference, so the task is not collected before it answers
        task.add_done_callback(answering.discard)

    return await bus.nc.subscribe(intake_subject_all(), queue="fedstate-intake", cb=on_request)


async def handle(bus: Bus, payload: bytes, *, subject: str, vault: Vault) -> IntakeReply:
    """Answer one request received on ``subject``, whose last token is the tenant; count it by its result."""
    reply = await _handle(bus, payload, subject=subject, vault=vault)
    REQUESTS.labels(reply.error.reason if reply.error else "Accepted").inc()
    return reply


async def _handle(bus: Bus, payload: bytes, *, subject: str, vault: Vault) -> IntakeReply:
    tenant = intake_tenant(subject)
    try:
        request = IntakeRequest.model_validate_json(payload)
    except ValidationError as exc:
        # The whole body (not JSON, not an object) has no path of its own: its cause names it ``body``.
        causes = [
            cause.model_copy(update={"field": cause.field or "body"}) for cause in field_errors(exc, IntakeRequest)
        ]
        message = f"malformed intake request: {describe(exc, IntakeRequest)}"
        return IntakeReply(ok=False, error=IntakeError(code=400, reason="BadRequest", message=message, causes=causes))
    try:
        _check_tenant(request, tenant, subject)
        if request.op == "apply":
            return await _apply(bus, request, tenant, vault)
        if request.op == "recover":
            return await _recover(bus, request, tenant)
        return await _delete(bus, request, tenant)
    except Refused as refused:
        return IntakeReply(ok=False, error=refused.error)
    except Conflict as exc:
        return _error(409, "Conflict", f"{exc}; retry")
    except Exception as exc:  # a bad request must never take the intake down
        log.exception("intake request failed")
        return _error(500, "InternalError", str(exc))


def _error(code: int, reason: str, message: str) -> IntakeReply:
    return IntakeReply(ok=False, error=IntakeError(code=code, reason=reason, message=message))


def _bad_request(field: str, message: str) -> Refused:
    return Refused(
        IntakeError(code=400, reason="BadRequest", message=message, causes=[FieldError(field=field, message=message)])
    )


def _check_tenant(request: IntakeRequest, tenant: str, subject: str) -> None:
    """The subject names the tenant; a body may repeat it but never name another (as kubectl's namespace)."""
    if not is_dns_label(tenant):
        raise _bad_request("subject", f"the tenant {tenant!r} of subject {subject} is not a DNS-1123 label")
    if request.tenant is not None and request.tenant != tenant:
        # Named in short: a refusal that echoed a megabyte of tenant did not fit in a NATS message, and the client
        # waited for its timeout instead of the answer.
        where = (
            f"send the request on {intake_subject(request.tenant)}"
            if is_dns_label(request.tenant)
            else "a tenant is a DNS-1123 label"
        )
        raise _bad_request(
            "tenant",
            f"the tenant in the request body ({reprlib.repr(request.tenant)}) does not match the tenant of subject "
            f"{subject} ({tenant!r}): leave tenant out, or {where}",
        )


def _resource(kind: str | None, op: str) -> Resource:
    """The kind a delete (or a recover) names, by any name ``fedstate`` accepts for it (``mcm``, ``multicloudmongodbs`` ...)."""
    try:
        return lookup(kind or "")
    except KeyError:
        known = ", ".join(name for r in RESOURCES for name in (r.kind, *r.names))
        raise _bad_request("kind", f"{op} needs a kind: {kind!r} is none of {known}") from None


def _opened(request: IntakeRequest, tenant: str, vault: Vault) -> IntakeRequest:
    """``request`` with the secrets its submitter sealed to the federation opened; one in clear, or sealed for
    another object or field, is refused (400) by its field path."""
    if request.object is None:
        return request
    try:
        opened = open_request_secrets(vault.ring, tenant, request.object)
    except SecretNotSealed as exc:
        raise _bad_request(exc.field, str(exc)) from None
    return request.model_copy(update={"object": opened})


async def _apply(bus: Bus, request: IntakeRequest, tenant: str, vault: Vault) -> IntakeReply:
    incoming = validate(_opened(request, tenant, vault), tenant)
    key = incoming.key
    # The object and its namesake of the other kind, read together: one round trip on the way of every apply.
    twins = (
        [InstanceKey(key.tenant, key.namespace, KIND_BY_NAME[SHARES_NAMES_WITH[incoming.kind]], key.name)]
        if incoming.kind in SHARES_NAMES_WITH
        else []
    )
    existing, *others = await asyncio.gather(*(bus.spec.get(k.spec_key) for k in (key, *twins)))
    for other in others:
        if other is not None:
            raise name_taken(incoming, other.value)
    if existing is None and incoming.target_cluster and await bus.clusters.get(incoming.target_cluster) is None:
        raise unknown_cluster(incoming)
    check_resource_version(incoming, existing.revision if existing else None)
    # Compared and admitted in clear; stored with the user's secrets sealed to the federation.
    held = vault.opened_object(existing.value) if existing else None
    incoming = keep_secrets(incoming, held)
    stored = admit(incoming, held, utcnow())
    if existing is None:
        revision = await bus.spec.create(key.spec_key, await _sealed(bus, vault, stored, None))
        outcome = Outcome.CREATED
    elif stored == held:
        revision, outcome = existing.revision, Outcome.UNCHANGED
    else:
        revision = await bus.spec.update(
            key.spec_key, await _sealed(bus, vault, stored, existing.value), existing.revision
        )
        outcome = Outcome.UPDATED
    if outcome != Outcome.UNCHANGED:
        await emit(
            bus.js,
            key,
            reason=f"Spec{outcome.value.title()}",
            component=COMPONENT,
            message=f"{stored.kind} {key} has been {outcome} (generation {stored.metadata.generation})",
        )
    return IntakeReply(ok=True, outcome=str(outcome), object=shown(stored, revision))


async def _sealed(bus: Bus, vault: Vault, stored: StoredObject, existing: StoredObject | None) -> StoredObject:
    """``stored`` as it goes into fs-spec: its secrets sealed to the federation, and a single-cluster object's also to
    its target cluster's key, when its agent published one (else the orchestrator seals them once it does)."""
    cluster = stored.target_cluster
    lease = await bus.leases.get(lease_key(LeaseHolder.AGENT, cluster)) if cluster else None
    cluster_key = lease.value.public_key if lease is not None else None
    return vault.with_cluster_box(vault.sealed_object(stored), cluster_key, existing.sealed if existing else None)


async def _named(bus: Bus, request: IntakeRequest, tenant: str) -> tuple[Resource, InstanceKey, Entry[StoredObject]]:
    """The object a delete or a recover names (by kind, namespace and name), or a refusal: 400, or 404."""
    resource = _resource(request.kind, request.op)
    if not request.name:
        raise _bad_request("name", f"{request.op} needs a name")
    key = InstanceKey(tenant, request.namespace or "default", resource.bus_kind, request.name)
    existing = await bus.spec.get(key.spec_key)
    if existing is None:
        raise Refused(IntakeError(code=404, reason="NotFound", message=f"{resource.kind} {key} not found"))
    return resource, key, existing


async def _delete(bus: Bus, request: IntakeRequest, tenant: str) -> IntakeReply:
    resource, key, existing = await _named(bus, request, tenant)
    if not existing.value.metadata.finalizers:
        await bus.spec.delete(key.spec_key, existing.revision)
        return IntakeReply(ok=True, outcome="deleted", object=shown(existing.value))
    marked: StoredObject = mark_deleting(existing.value, utcnow())
    if marked != existing.value:
        await bus.spec.update(key.spec_key, marked, existing.revision)
        await emit(
            bus.js, key, reason="Deleting", component=COMPONENT, message=f"{resource.kind} {key} is being deleted"
        )
    return IntakeReply(ok=True, outcome="deleting", object=shown(marked))


async def _recover(bus: Bus, request: IntakeRequest, tenant: str) -> IntakeReply:
    """Record a forced recovery on a MultiCloudMongoDB that lost its voting majority; the orchestrator acts on it."""
    _, key, existing = await _named(bus, request, tenant)
    status = await bus.status.get(key.status_key)
    recorded = record_recovery(
        existing.value,
        status.value.multicloud if status is not None else None,
        force=request.force,
        now=utcnow(),
    )
    await bus.spec.update(key.spec_key, recorded, existing.revision)
    await emit(
        bus.js,
        key,
        reason="RecoveryRequested",
        component=COMPONENT,
        message=f"forced recovery of {key} requested: writes not replicated to the surviving members will be lost",
        warning=True,
    )
    return IntakeReply(ok=True, outcome="recovering", object=shown(recorded))
