"""CustomResourceDefinition admission: a created CRD starts serving its custom resources at once
(status Established), a deleted one stops serving them and its objects are deleted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fedstate_sim.kube import errors
from fedstate_sim.kube.admission import Admission
from fedstate_sim.kube.meta import Clock, Obj, meta, spec_of
from fedstate_sim.kube.resources import ResourceType, crd_resource_types

if TYPE_CHECKING:
    from fedstate_sim.kube.store import ObjectStore

CRD_GROUP = "apiextensions.k8s.io"


class CrdAdmission(Admission):
    def __init__(self, store: ObjectStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def on_create(self, rtype: ResourceType, obj: Obj) -> None:
        types = self._validate(obj)
        clash = {t.resource for t in types} & self._store.registry.storage_keys()
        if clash:
            raise errors.already_exists("customresourcedefinitions.apiextensions.k8s.io", meta(obj)["name"])
        self._serve(obj, types)

    def on_update(self, rtype: ResourceType, old: Obj, new: Obj) -> None:
        types = self._validate(new)
        self._store.registry.remove_resource(crd_resource_types(old)[0].resource)
        self._serve(new, types)

    def on_delete(self, rtype: ResourceType, obj: Obj) -> None:
        types = crd_resource_types(obj)
        if not types:
            return
        for item in self._store.list(types[0]):
            self._store.delete(types[0], meta(item).get("namespace") or "", meta(item)["name"])
        self._store.registry.remove_resource(types[0].resource)

    def _validate(self, obj: Obj) -> list[ResourceType]:
        spec, name = spec_of(obj), meta(obj)["name"]
        names = spec.get("names") or {}
        expected = f"{names.get('plural', '')}.{spec.get('group', '')}"
        if name != expected:
            raise errors.invalid(
                "CustomResourceDefinition",
                name,
                "metadata.name",
                name,
                f'must be spec.names.plural+"."+spec.group ({expected})',
                CRD_GROUP,
            )
        types = crd_resource_types(obj)
        if not types or not names.get("kind"):
            raise errors.invalid(
                "CustomResourceDefinition",
                name,
                "spec.versions",
                [],
                "must have exactly one storage version and a kind",
                CRD_GROUP,
            )
        return types

    def _serve(self, obj: Obj, types: list[ResourceType]) -> None:
        for rtype in types:
            self._store.registry.add(rtype)
        names = dict(spec_of(obj).get("names") or {})
        names.setdefault("singular", names.get("kind", "").lower())
        names.setdefault("listKind", f"{names.get('kind', '')}List")
        now = self._clock.timestamp()
        obj["status"] = {
            "acceptedNames": names,
            "storedVersions": [v["name"] for v in spec_of(obj).get("versions") or [] if v.get("storage", True)],
            "conditions": [
                {
                    "type": "NamesAccepted",
                    "status": "True",
                    "reason": "NoConflicts",
                    "message": "no conflicts found",
                    "lastTransitionTime": now,
                },
                {
                    "type": "Established",
                    "status": "True",
                    "reason": "InitialNamesAccepted",
                    "message": "the initial names have been accepted (fedstate simulator)",
                    "lastTransitionTime": now,
                },
            ],
        }
