"""CustomResourceDefinition admission, and the admission of the custom resources it serves.

A created CRD starts serving its custom resources at once (status Established); every served version
needs a structural ``openAPIV3Schema`` of ``type: object``. Each custom resource written is pruned,
defaulted and validated against its version's schema (``crschema``). Deleting a CRD first marks it
(finalizer ``customresourcecleanup.apiextensions.k8s.io``, condition Terminating): the ``CrdCleanup``
controller deletes its custom resources — waiting for their own finalizers — and only then lets it
go; meanwhile creating one is 405 MethodNotAllowed, as on a real cluster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fedstate_sim.kube import crschema, errors
from fedstate_sim.kube.admission import Admission
from fedstate_sim.kube.errors import NOT_SUPPORTED, REQUIRED, FieldError
from fedstate_sim.kube.meta import Clock, Obj, meta, spec_of
from fedstate_sim.kube.resources import CRDS, ResourceType, crd_resource_types

if TYPE_CHECKING:
    from fedstate_sim.kube.store import ObjectStore

CRD_GROUP = "apiextensions.k8s.io"
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


class CrdAdmission(Admission):
    def __init__(self, store: ObjectStore, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._guarded: set[str] = set()  # custom resources whose writes CustomResourceAdmission checks

    def on_create(self, rtype: ResourceType, obj: Obj) -> None:
        types = self._validate(obj)
        clash = {t.resource for t in types} & self._store.registry.storage_keys()
        if clash:
            raise errors.already_exists("customresourcedefinitions.apiextensions.k8s.io", meta(obj)["name"])
        self._serve(obj, types)

    def on_update(self, rtype: ResourceType, old: Obj, new: Obj) -> None:
        types = self._validate(new)
        self._store.registry.remove_resource(crd_resource_types(old)[0].resource)
        status = old.get("status")
        self._serve(new, types)
        if meta(old).get("deletionTimestamp"):
            new["status"] = status  # Terminating stays

    def finalizers_on_delete(self, rtype: ResourceType, obj: Obj) -> list[str]:
        return [CLEANUP_FINALIZER]

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
        schema_errors = [e for index, v in enumerate(spec.get("versions") or []) for e in _schema_errors(index, v)]
        if schema_errors:
            raise errors.invalid_object("CustomResourceDefinition", name, schema_errors, CRD_GROUP)
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
        if types and types[0].resource not in self._guarded:
            self._guarded.add(types[0].resource)
            self._store.add_admission(types[0].resource, CustomResourceAdmission(self._store))
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


def _schema_errors(index: int, version: Obj) -> list[FieldError]:
    """apiextensions.k8s.io/v1 wants a schema per version, an object at its root."""
    path = f"spec.versions[{index}].schema.openAPIV3Schema"
    schema = (version.get("schema") or {}).get("openAPIV3Schema")
    if not isinstance(schema, dict):
        return [FieldError(REQUIRED, path, "schemas are required")]
    if not schema.get("type"):
        return [FieldError(REQUIRED, f"{path}.type", "must not be empty at the root")]
    if schema["type"] != "object":
        return [FieldError(NOT_SUPPORTED, f"{path}.type", 'supported values: "object"', schema["type"])]
    return []


def schema_for(crd: Obj | None, version: str) -> crschema.Schema | None:
    for served in spec_of(crd or {}).get("versions") or []:
        if served.get("name") == version:
            schema = (served.get("schema") or {}).get("openAPIV3Schema")
            return schema if isinstance(schema, dict) else None
    return None


class CustomResourceAdmission(Admission):
    """Every write of a custom resource: pruned, defaulted and validated against its version's schema."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store

    def on_create(self, rtype: ResourceType, obj: Obj) -> None:
        crd = self._store.get(CRDS, "", rtype.resource)
        if crd is not None and meta(crd).get("deletionTimestamp"):
            raise errors.method_not_allowed_because(
                "create not allowed while custom resource definition is terminating"
            )
        self._check(rtype, obj, crd)

    def on_update(self, rtype: ResourceType, old: Obj, new: Obj) -> None:
        self._check(rtype, new, self._store.get(CRDS, "", rtype.resource))

    def on_update_status(self, rtype: ResourceType, old: Obj, new: Obj) -> None:
        """Only the status is new (and only it may be touched: the rest is shared with the stored object)."""
        schema = schema_for(self._store.get(CRDS, "", rtype.resource), rtype.version)
        status_schema = ((schema or {}).get("properties") or {}).get("status")
        if isinstance(status_schema, dict) and isinstance(new.get("status"), dict):
            crschema.prune_value(new["status"], status_schema)
            crschema.default(new["status"], status_schema)
        _refuse(rtype, new, schema)

    @staticmethod
    def _check(rtype: ResourceType, obj: Obj, crd: Obj | None) -> None:
        schema = schema_for(crd, rtype.version)
        if schema is not None:
            crschema.prune(obj, schema)
            crschema.default(obj, schema)
        _refuse(rtype, obj, schema)


def _refuse(rtype: ResourceType, obj: Obj, schema: crschema.Schema | None) -> None:
    problems = crschema.errors_of(obj, schema) if schema is not None else []
    if problems:
        raise errors.invalid_object(rtype.kind, meta(obj).get("name", ""), problems, rtype.group)
