"""Defaulting and validation of built-in kinds, as admission hooks (services live in ``services.py``,
CRDs in ``crds.py``). Only the rules clients notice are modelled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fedstate_sim.kube import errors
from fedstate_sim.kube.admission import Admission
from fedstate_sim.kube.meta import Obj, meta, spec_of
from fedstate_sim.kube.resources import STORAGECLASSES, ResourceType
from fedstate_sim.kube.selectors import from_label_selector_object

if TYPE_CHECKING:
    from fedstate_sim.kube.store import ObjectStore

DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
PROVISIONER = "sim.fedstate.io/csi"  # the fake CSI driver of every simulated storage class
_STS_MUTABLE = {
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
}


class NamespaceDefaults(Admission):
    def on_create(self, rtype: ResourceType, obj: Obj) -> None:
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = obj["metadata"]["name"]
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj["status"] = {"phase": "Active"}


class PodDefaults(Admission):
    def on_create(self, rtype: ResourceType, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        _require_containers(meta(obj)["name"], spec)
        spec.setdefault("restartPolicy", "Always")
        spec.setdefault("dnsPolicy", "ClusterFirst")
        spec.setdefault("schedulerName", "default-scheduler")
        spec.setdefault("terminationGracePeriodSeconds", 30)
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("enableServiceLinks", True)
        for container in spec["containers"]:
            container.setdefault("imagePullPolicy", "IfNotPresent")
            container.setdefault("terminationMessagePath", "/dev/termination-log")
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(spec)}


def _require_containers(name: str, spec: Obj) -> None:
    containers = spec.get("containers") or []
    if not containers:
        raise errors.invalid("Pod", name, "spec.containers", [], "Required value")
    for index, container in enumerate(containers):
        for field in ("name", "image"):
            if not container.get(field):
                raise errors.invalid("Pod", name, f"spec.containers[{index}].{field}", "", "Required value")


def qos_class(spec: Obj) -> str:
    resources = [c.get("resources") or {} for c in spec.get("containers") or []]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    return "Guaranteed" if all(_guaranteed(r) for r in resources) else "Burstable"


def _guaranteed(resources: Obj) -> bool:
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
    return all(limits.get(key) and requests.get(key, limits[key]) == limits[key] for key in ("cpu", "memory"))


class StatefulSetDefaults(Admission):
    def on_create(self, rtype: ResourceType, obj: Obj) -> None:
        spec = _default_sts_spec(obj.setdefault("spec", {}))
        _validate_selector(meta(obj)["name"], spec)
        obj["status"] = {"replicas": 0, "availableReplicas": 0}

    def on_update(self, rtype: ResourceType, old: Obj, new: Obj) -> None:
        new_spec = _default_sts_spec(new.setdefault("spec", {}))
        old_rest = {k: v for k, v in spec_of(old).items() if k not in _STS_MUTABLE}
        new_rest = {k: v for k, v in new_spec.items() if k not in _STS_MUTABLE}
        if old_rest != new_rest:
            why = (
                "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
                "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
            )
            raise errors.invalid("StatefulSet", meta(new)["name"], "spec", "", why)
        _validate_selector(meta(new)["name"], new_spec)


def _default_sts_spec(spec: Obj) -> Obj:
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
    spec.setdefault("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
    return spec


def _validate_selector(name: str, spec: Obj) -> None:
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    selector = from_label_selector_object(spec.get("selector"))
    if selector.empty or not selector.matches(labels):
        raise errors.invalid(
            "StatefulSet", name, "spec.template.metadata.labels", labels, "`selector` does not match template `labels`"
        )


class PvcDefaults(Admission):
    """Like the DefaultStorageClass admission plugin: an absent class becomes the cluster default."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    def on_create(self, rtype: ResourceType, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        spec.setdefault("volumeMode", "Filesystem")
        if spec.get("storageClassName") is None:
            default = self.default_class()
            if default:
                spec["storageClassName"] = default
        obj["status"] = {"phase": "Pending"}

    def default_class(self) -> str | None:
        for storage_class in self._store.list(STORAGECLASSES):
            if (meta(storage_class).get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION) == "true":
                return str(meta(storage_class)["name"])
        return None


class ImmutableData(Admission):
    """ConfigMaps and Secrets with ``immutable: true``: their data (and the flag) can never change again;
    kube-apiserver answers 422 ``<field>: Forbidden: field is immutable when `immutable` is set``."""

    FIELDS = ("data", "binaryData", "stringData", "immutable")

    def on_update(self, rtype: ResourceType, old: Obj, new: Obj) -> None:
        if old.get("immutable") is not True:
            return
        for field in self.FIELDS:
            if new.get(field) != old.get(field) and not (field == "stringData" and not new.get(field)):
                raise errors.forbidden_field(rtype.kind, meta(old)["name"], field, _IMMUTABLE_WHY)


_IMMUTABLE_WHY = "field is immutable when `immutable` is set"
