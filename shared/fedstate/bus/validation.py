"""The validation every write meets before it is stored: the intake's (the federation's), and the crd-bridge's
before it asks the intake at all, so an object the intake would refuse never reaches the bus.

Pure: the typed models with their field-path errors, the size limit, the kinds served.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from fedstate.labels import is_dns_label
from fedstate.models.base import ObjectMeta, ResourceRequirements, parse_quantity
from fedstate.models.errors import FieldError, field_errors
from fedstate.models.labels import label_errors
from fedstate.models.mongodb import MongoDB
from fedstate.models.multicloud import MultiCloudMongoDB
from fedstate.replset import ImageUnsupported, check_image_supported

from .intake import IntakeError, IntakeRequest
from .limits import MAX_OBJECT_BYTES, object_size, too_large
from .names import DEFAULT_TENANT
from .objects import KIND_BY_NAME, StoredObject

TYPED: dict[str, type[MultiCloudMongoDB] | type[MongoDB]] = {
    "MultiCloudMongoDB": MultiCloudMongoDB,
    "MongoDB": MongoDB,
}


# Where each typed kind names its MongoDB image, and the image its members run when it names none.
IMAGE_FIELD = {"MultiCloudMongoDB": ("imageSetting", "image"), "MongoDB": ("image",)}
DEFAULT_IMAGE = "mongo:6.0"


def image_of(obj: StoredObject) -> str:
    value: object = obj.spec
    for part in IMAGE_FIELD[obj.kind]:
        value = value.get(part, {}) if isinstance(value, dict) else {}
    return value if isinstance(value, str) and value else DEFAULT_IMAGE


def image_path(kind: str) -> str:
    """``spec.imageSetting.image``: the field an image error names."""
    return "spec." + ".".join(IMAGE_FIELD[kind])


def _container_resource_errors(requirements: ResourceRequirements | None, path: str) -> list[FieldError]:
    """Kubernetes' rules for a container's resources (``ValidateResourceRequirements``): no quantity below 0, no
    request above its limit. The API server refuses a StatefulSet that breaks them, so the object is refused here
    rather than accepted and never run."""
    if requirements is None:
        return []
    found = [
        FieldError(field=f"{path}.{side}.{name}", message=f"must be greater than or equal to 0, got {text}")
        for side, values in (("limits", requirements.limits), ("requests", requirements.requests))
        for name in ("cpu", "memory")
        if values is not None and (text := getattr(values, name)) and parse_quantity(text) < 0
    ]
    for name in ("cpu", "memory"):
        limit = getattr(requirements.limits, name) if requirements.limits else None
        request = getattr(requirements.requests, name) if requirements.requests else None
        if limit and request and parse_quantity(request) > parse_quantity(limit):
            message = f"{request} must be less than or equal to the {name} limit of {limit}"
            found.append(FieldError(field=f"{path}.requests.{name}", message=message))
    return found


def _storage_errors(size: str, path: str) -> list[FieldError]:
    """A volume claim asks for more than nothing (``ValidatePersistentVolumeClaimSpec``)."""
    return (
        [] if parse_quantity(size) > 0 else [FieldError(field=path, message=f"must be greater than zero, got {size}")]
    )


def _label_errors(labels: dict[str, str], path: str) -> list[FieldError]:
    """Label keys and values by apimachinery's rules (an object's labels, a pod's node selector)."""
    return [
        FieldError(field=path, message=error) for key, value in labels.items() for error in label_errors(key, value)
    ]


def kubernetes_rule_errors(typed: MultiCloudMongoDB | MongoDB) -> list[FieldError]:
    """What a Kubernetes API server would refuse in the members' objects the spec becomes (quantities, the node
    selector): checked as an object is written (intake, crd-bridge, an agent's custom resource), not as a stored
    one is read, so an object stored before these checks can still be read and deleted."""
    if isinstance(typed, MultiCloudMongoDB):
        spec = typed.spec
        return (
            _container_resource_errors(spec.resource, "spec.resource")
            + _container_resource_errors(spec.export.resource, "spec.export.resource")
            + _storage_errors(spec.storage.storage_size, "spec.storage.storageSize")
            + _label_errors(spec.spread_constraints.node_select, "spec.spreadConstraints.nodeSelect")
        )
    single = typed.spec
    return (
        _container_resource_errors(single.resources, "spec.resources")
        + _container_resource_errors(single.metrics_exporter_spec.resources, "spec.metricsExporterSpec.resources")
        + _storage_errors(single.persistence.storage, "spec.persistence.storage")
        + _label_errors(single.pod_spec.node_selector, "spec.podSpec.nodeSelector")
    )


class Refused(Exception):
    def __init__(self, error: IntakeError) -> None:
        super().__init__(error.message)
        self.error = error


def invalid(message: str, causes: list[FieldError]) -> Refused:
    return Refused(IntakeError(code=422, reason="Invalid", message=message, causes=causes))


def _named(kind: str, raw: dict[str, Any]) -> str:
    """``MultiCloudMongoDB "rs1"`` (the kind alone when the object has no usable name)."""
    metadata = raw.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return f'{kind} "{name}"' if isinstance(name, str) and name else kind


def _invalid_object(kind: str, raw: dict[str, Any], causes: list[FieldError]) -> Refused:
    """The API server's wording: ``<kind> "<name>" is invalid: <cause>`` or ``...: [<cause>, <cause>]``."""
    listed = str(causes[0]) if len(causes) == 1 else "[" + ", ".join(map(str, causes)) + "]"
    return invalid(f"{_named(kind, raw)} is invalid: {listed}", causes)


def validate(request: IntakeRequest, tenant: str = DEFAULT_TENANT) -> StoredObject:
    """The object as ``tenant`` would store it, or ``Refused`` naming every bad field path (413 when too large)."""
    raw: dict[str, Any] = dict(request.object or {})
    kind = raw.get("kind")
    if not isinstance(kind, str) or kind not in KIND_BY_NAME:  # any JSON may come: a list is not hashable
        raise invalid(
            f"kind {kind!r} is not served here",
            [FieldError(field="kind", message=f"must be one of {sorted(KIND_BY_NAME)}")],
        )
    if (size := object_size(raw)) > MAX_OBJECT_BYTES:
        message = too_large(_named(kind, raw), size)
        cause = FieldError(field="object", message=message)
        raise Refused(IntakeError(code=413, reason="RequestEntityTooLarge", message=message, causes=[cause]))
    raw.pop("status", None)
    try:
        if kind in TYPED:
            typed: MultiCloudMongoDB | MongoDB = TYPED[kind].model_validate(raw)
            if causes := kubernetes_rule_errors(typed) + _label_errors(typed.metadata.labels, "metadata.labels"):
                raise _invalid_object(kind, raw, causes)
            stored = StoredObject(
                api_version=typed.api_version,
                kind=kind,
                tenant=tenant,
                metadata=typed.metadata,
                spec=typed.spec.to_wire(),
            )
        else:
            metadata = ObjectMeta.model_validate(raw.get("metadata", {}))
            if causes := _label_errors(metadata.labels, "metadata.labels"):
                raise _invalid_object(kind, raw, causes)
            stored = StoredObject(
                api_version=raw.get("apiVersion", "v1"),
                kind=kind,
                tenant=tenant,
                metadata=metadata,
                data=raw.get("data") or {},
            )
    except ValidationError as exc:
        raise _invalid_object(kind, raw, field_errors(exc, TYPED.get(kind))) from None
    if kind in IMAGE_FIELD:
        try:
            check_image_supported(image_of(stored))
        except ImageUnsupported as unsupported:
            raise _invalid_object(kind, raw, [FieldError(field=image_path(kind), message=str(unsupported))]) from None
    if kind == "MongoDB":
        cluster = request.target_cluster or stored.metadata.annotations.get("fedstate.io/cluster")
        if not cluster:
            raise invalid(
                "a MongoDB object runs in one member cluster: name it (--cluster)",
                [FieldError(field="targetCluster", message="required for kind MongoDB")],
            )
        if not is_dns_label(cluster):  # from the annotation: it becomes part of keys and subjects
            cause = FieldError(field="metadata.annotations.fedstate.io/cluster", message="not a DNS-1123 label")
            raise _invalid_object(kind, raw, [cause])
        stored = stored.model_copy(update={"target_cluster": cluster})
    return stored
