"""Admission of user objects: validate, then compute the object to store (uid, generation, finalizers)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fedstate.bus.intake import IntakeError
from fedstate.bus.objects import RecoveryRequest, StoredObject

# Validation is shared with the crd-bridge, which checks an object before it asks the intake.
from fedstate.bus.validation import TYPED, Refused, image_of, image_path, invalid
from fedstate.bus.validation import validate as validate
from fedstate.models.errors import FieldError
from fedstate.models.multicloud import MultiCloudMongoDBStatus
from fedstate.models.redaction import REDACTED, RedactedWithoutValue, redact, restore
from fedstate.replset import TransitionRefused, check_image_transition

FINALIZER = "fedstate.io/federation"


def check_image_change(incoming: StoredObject, existing: StoredObject) -> None:
    """MongoDB upgrades one major release at a time and never downgrades in place: refuse anything else."""
    if incoming.kind not in TYPED or incoming.kind != existing.kind:
        return
    try:
        check_image_transition(image_of(existing), image_of(incoming))
    except TransitionRefused as refused:
        field = image_path(incoming.kind)
        raise invalid(
            f"{incoming.kind} {incoming.metadata.name} is invalid: {field}: {refused}",
            [FieldError(field=field, message=str(refused))],
        ) from None


def unknown_cluster(incoming: StoredObject) -> Refused:
    """A MongoDB named a member cluster no collector has ever reported: refuse it rather than wait forever."""
    cluster = incoming.target_cluster
    cause = FieldError(
        field="targetCluster",
        message=f"{cluster!r} is not a member cluster (no collector has reported it; see `fedstate get clusters`)",
    )
    return invalid(f'{incoming.kind} "{incoming.metadata.name}" is invalid: {cause}', [cause])


def check_resource_version(incoming: StoredObject, revision: int | None) -> None:
    """kubectl's optimistic concurrency: an object carrying ``metadata.resourceVersion`` applies only over
    that revision of the stored object (``revision``, None when nothing is stored); without one it applies."""
    wanted = incoming.metadata.resource_version
    if not wanted or wanted == str(revision):
        return
    if revision is None:
        cause = f"is {wanted} but no such object exists"
        why = f"metadata.resourceVersion {cause}; remove metadata.resourceVersion to create it"
    else:
        cause = f"is {wanted}, the current version is {revision}"
        why = (
            f"the object has been modified (metadata.resourceVersion {cause}); "
            "apply your changes to the latest version and try again"
        )
    raise Refused(
        IntakeError(
            code=409,
            reason="Conflict",
            message=f'Operation cannot be fulfilled on {incoming.kind} "{incoming.metadata.name}": {why}',
            causes=[FieldError(field="metadata.resourceVersion", message=cause)],
        )
    )


def admit(incoming: StoredObject, existing: StoredObject | None, now: datetime) -> StoredObject:
    """Merge server-owned metadata: a new object gets uid and generation 1, a changed spec the next generation."""
    if existing is not None and existing.deleting:
        raise Refused(
            IntakeError(
                code=409, reason="Conflict", message=f"{incoming.kind} {incoming.metadata.name} is being deleted"
            )
        )
    if existing is not None:
        check_image_change(incoming, existing)
        if existing.target_cluster and incoming.target_cluster != existing.target_cluster:
            raise invalid(
                f"{incoming.kind} {incoming.metadata.name} runs in cluster {existing.target_cluster}; "
                "the target cluster cannot change (delete it and apply it again)",
                [FieldError(field="targetCluster", message="is immutable")],
            )
    if existing is None:
        meta = incoming.metadata.model_copy(
            update={
                "uid": str(uuid.uuid4()),
                "generation": 1,
                "creation_timestamp": now,
                "finalizers": [FINALIZER] if incoming.kind in TYPED else [],
                "resource_version": None,
            }
        )
        return incoming.model_copy(update={"metadata": meta})
    changed = (incoming.spec, incoming.data, incoming.target_cluster) != (
        existing.spec,
        existing.data,
        existing.target_cluster,
    )
    meta = existing.metadata.model_copy(
        update={
            "generation": existing.metadata.generation + int(changed),
            "labels": incoming.metadata.labels,
            "annotations": incoming.metadata.annotations,
        }
    )
    return incoming.model_copy(update={"metadata": meta, "recovery": existing.recovery})


# A MongoDB and a MultiCloudMongoDB of the same name would share Kubernetes names in a member cluster.
SHARES_NAMES_WITH = {"MongoDB": "MultiCloudMongoDB", "MultiCloudMongoDB": "MongoDB"}


def keep_secrets(incoming: StoredObject, existing: StoredObject | None) -> StoredObject:
    """Where the incoming spec has the redaction marker (an object read back and applied again), the
    stored secret stays."""
    try:
        spec = restore(incoming.kind, incoming.spec, existing.spec if existing else None)
    except RedactedWithoutValue as exc:
        raise invalid(str(exc), [FieldError(field=exc.field, message=f"{REDACTED!r} but nothing is stored")]) from None
    return incoming if spec is incoming.spec else incoming.model_copy(update={"spec": spec})


def shown(stored: StoredObject, revision: int | None = None) -> dict[str, Any]:
    """The object as a user may see it: secret fields redacted, ``resourceVersion`` the revision it is stored at."""
    meta = stored.metadata.model_copy(update={"resource_version": str(revision) if revision else None})
    return stored.model_copy(update={"spec": redact(stored.kind, stored.spec), "metadata": meta}).to_wire()


def name_taken(incoming: StoredObject, other: StoredObject) -> Refused:
    return Refused(
        IntakeError(
            code=409,
            reason="AlreadyExists",
            message=f"{other.kind} {other.metadata.namespace}/{other.metadata.name} already uses this name; "
            f"a {incoming.kind} of the same name would share its members' Kubernetes objects",
        )
    )


def mark_deleting(existing: StoredObject, now: datetime) -> StoredObject:
    meta = existing.metadata.model_copy(update={"deletion_timestamp": existing.metadata.deletion_timestamp or now})
    return existing.model_copy(update={"metadata": meta})


def record_recovery(
    existing: StoredObject, status: MultiCloudMongoDBStatus | None, *, force: bool, now: datetime
) -> StoredObject:
    """The object with a forced recovery recorded, or ``Refused``: only for a MultiCloudMongoDB whose
    ``QuorumLost`` condition is True, and only with ``force`` (it may lose writes)."""
    name = f"{existing.kind} {existing.metadata.namespace}/{existing.metadata.name}"
    if existing.kind != "MultiCloudMongoDB":
        raise invalid(
            f"{name}: only a MultiCloudMongoDB can be recovered", [FieldError(field="kind", message="not recoverable")]
        )
    if existing.deleting:
        raise Refused(IntakeError(code=409, reason="Conflict", message=f"{name} is being deleted"))
    if not force:
        raise invalid(
            f"{name}: a forced recovery installs a config of the surviving members with force and loses every "
            "write not replicated to them; ask for it with force (fedstate recover --force)",
            [
                FieldError(
                    field="force", message="must be true (fedstate recover --force): a forced recovery loses writes"
                )
            ],
        )
    lost = status.condition("QuorumLost") if status is not None else None
    if lost is None or lost.status != "True" or lost.last_transition_time is None:
        why = "its voting majority is reachable" if lost is None or lost.status != "True" else "it has no status"
        raise Refused(
            IntakeError(
                code=409,
                reason="Conflict",
                message=f"{name} does not need a forced recovery: {why} "
                f"({lost.message if lost is not None else 'no QuorumLost condition'}); "
                "a forced reconfig now could roll back acknowledged writes",
            )
        )
    request = RecoveryRequest(requested_at=now, quorum_lost_since=lost.last_transition_time, force=True)
    return existing.model_copy(update={"recovery": request})
