"""PersistentVolumeClaim admission: the DefaultStorageClass plugin on create, ``ValidatePersistentVolumeClaimUpdate``
and the PersistentVolumeClaimResize plugin on update.

A claim's spec is fixed once created: the volume binder may set ``volumeName`` once, and a Bound
claim's ``resources.requests.storage`` may grow — never shrink (422) — and only when its StorageClass
has ``allowVolumeExpansion: true`` (403 from the resize plugin otherwise). The volume binder then
reports the new size in ``status.capacity``, as a CSI resizer would.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from fedstate_sim.kube import errors
from fedstate_sim.kube.admission import Admission
from fedstate_sim.kube.defaults import DEFAULT_CLASS_ANNOTATION
from fedstate_sim.kube.errors import FORBIDDEN, INVALID, REQUIRED, FieldError
from fedstate_sim.kube.meta import Obj, clone, meta, spec_of, status_of
from fedstate_sim.kube.pods import quantity_value, spec_diff
from fedstate_sim.kube.resources import STORAGECLASSES, ResourceType

if TYPE_CHECKING:
    from fedstate_sim.kube.store import ObjectStore

PVC_PROTECTION = "kubernetes.io/pvc-protection"
IMMUTABLE = "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims"
NO_RESIZE = (
    "only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize"
)


class ClaimAdmission(Admission):
    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    def on_create(self, rtype: ResourceType, obj: Obj) -> None:
        # StorageObjectInUseProtection: removed only once no pod uses the claim (controllers/pvcprotection.py)
        finalizers = meta(obj).setdefault("finalizers", [])
        if PVC_PROTECTION not in finalizers:
            finalizers.append(PVC_PROTECTION)
        spec = obj.setdefault("spec", {})
        if errs := create_errors(spec):
            raise errors.invalid_object("PersistentVolumeClaim", meta(obj)["name"], errs)
        spec.setdefault("volumeMode", "Filesystem")
        if spec.get("storageClassName") is None:
            default = self.default_class()
            if default:
                spec["storageClassName"] = default
        obj["status"] = {"phase": "Pending"}

    def on_update(self, rtype: ResourceType, old: Obj, new: Obj) -> None:
        new.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
        name = meta(new)["name"]
        errs = update_errors(old, new)
        if errs:
            raise errors.invalid_object("PersistentVolumeClaim", name, errs)
        if requested_storage(new) > requested_storage(old) and not self._expandable(old):
            raise errors.forbidden("persistentvolumeclaims", name, NO_RESIZE)

    def default_class(self) -> str | None:
        for storage_class in self._store.list(STORAGECLASSES):
            if (meta(storage_class).get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION) == "true":
                return str(meta(storage_class)["name"])
        return None

    def _expandable(self, claim: Obj) -> bool:
        """Provisioned by a class that still exists and allows expansion."""
        name = spec_of(claim).get("storageClassName")
        storage_class = self._store.get(STORAGECLASSES, "", name) if name else None
        return storage_class is not None and storage_class.get("allowVolumeExpansion") is True


def create_errors(spec: Obj) -> list[FieldError]:
    """``ValidatePersistentVolumeClaimSpec``: a claim asks for some storage, more than none."""
    field = "spec.resources[storage]"
    text = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    if text is None:
        return [FieldError(REQUIRED, field)]
    return [] if quantity_value(text) > 0 else [FieldError(INVALID, field, "must be greater than zero", text)]


def update_errors(old: Obj, new: Obj) -> list[FieldError]:
    before, after = clone(spec_of(old)), clone(spec_of(new))
    if not before.get("volumeName"):
        _put(before, "volumeName", after.get("volumeName"))  # the binder sets it once
    if status_of(old).get("phase") == "Bound":
        _put(after, "volumeAttributesClassName", before.get("volumeAttributesClassName"))
        requests = (after.get("resources") or {}).get("requests")
        if isinstance(requests, dict):
            _put(requests, "storage", ((before.get("resources") or {}).get("requests") or {}).get("storage"))
    if after != before:
        return [FieldError(FORBIDDEN, "spec", f"{IMMUTABLE}\n{spec_diff(before, after)}")]
    if requested_storage(new) < requested_storage(old):
        return [FieldError(FORBIDDEN, "spec.resources.requests.storage", "field can not be less than previous value")]
    return []


def _put(target: Obj, key: str, value: object) -> None:
    if value is None:
        target.pop(key, None)
    else:
        target[key] = value


def requested_storage(claim: Obj) -> Decimal:
    text = ((spec_of(claim).get("resources") or {}).get("requests") or {}).get("storage")
    return quantity_value(text) if text else Decimal(0)
