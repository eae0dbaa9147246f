"""Defaulting and validation of built-in kinds, as admission hooks (Services live in ``services.py``,
Pods in ``pods.py``, claims in ``claims.py``, CRDs in ``crds.py``). Only the rules clients notice are modelled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fedstate_sim.kube import errors
from fedstate_sim.kube.admission import Admission
from fedstate_sim.kube.meta import Obj, meta, spec_of
from fedstate_sim.kube.pods import pod_spec_errors
from fedstate_sim.kube.resources import ResourceType
from fedstate_sim.kube.selectors import from_label_selector_object
from fedstate_sim.kube.validation import metadata_errors

if TYPE_CHECKING:
    pass

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


class StatefulSetDefaults(Admission):
    def on_create(self, rtype: ResourceType, obj: Obj) -> None:
        spec = _default_sts_spec(obj.setdefault("spec", {}))
        _validate_selector(meta(obj)["name"], spec)
        _validate_template(meta(obj)["name"], spec)
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
            raise errors.forbidden_field("StatefulSet", meta(new)["name"], "spec", why, "apps")
        _validate_selector(meta(new)["name"], new_spec)
        _validate_template(meta(new)["name"], new_spec)


def _validate_template(name: str, spec: Obj) -> None:
    """The pod template is validated as a Pod would be; its volume claim templates are not (kube-apiserver leaves
    them to the claims the controller creates, which it refuses then: ``FailedCreate``)."""
    template = (spec.get("template") or {}).get("spec") or {}
    if errs := pod_spec_errors(template, "spec.template.spec"):
        raise errors.invalid_object("StatefulSet", name, errs, "apps")


def _default_sts_spec(spec: Obj) -> Obj:
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
    spec.setdefault("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
    return spec


def _validate_selector(name: str, spec: Obj) -> None:
    """The template's labels and annotations are valid, and the selector matches them."""
    templates = [("spec.template.metadata", (spec.get("template") or {}).get("metadata"))]
    templates += [
        (f"spec.volumeClaimTemplates[{i}].metadata", t.get("metadata"))
        for i, t in enumerate(spec.get("volumeClaimTemplates") or [])
    ]
    errs = [e for path, metadata in templates for e in metadata_errors(metadata, path)]
    if errs:
        raise errors.invalid_object("StatefulSet", name, errs, "apps")
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    selector = from_label_selector_object(spec.get("selector"))
    if selector.empty or not selector.matches(labels):
        raise errors.invalid(
            "StatefulSet",
            name,
            "spec.template.metadata.labels",
            labels,
            "`selector` does not match template `labels`",
            "apps",
        )


class ImmutableData(Admission):
    """ConfigMaps and Secrets with ``immutable: true``: their data (and the flag) can never change again;
    kube-apiserver answers 422 ``<field>: Forbidden: field is immutable when `immutable` is set``."""

    FIELDS = ("data", "binaryData", "immutable")  # a Secret's stringData is in its data by now (configdata)

    def on_update(self, rtype: ResourceType, old: Obj, new: Obj) -> None:
        if old.get("immutable") is not True:
            return
        for field in self.FIELDS:
            if new.get(field) != old.get(field):
                raise errors.forbidden_field(rtype.kind, meta(old)["name"], field, _IMMUTABLE_WHY)


_IMMUTABLE_WHY = "field is immutable when `immutable` is set"
