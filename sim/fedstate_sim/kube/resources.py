"""The kinds the simulated API server knows: built-in ones plus those CustomResourceDefinitions add.

A ``ResourceType`` is one served group/version/plural. Objects are stored per
``resource`` (``plural.group``), so a CRD serving several versions shares one store
(no conversion: the simulator hands objects back with the apiVersion they were written with).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    has_status: bool = False
    short_names: tuple[str, ...] = ()
    singular: str = ""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def resource(self) -> str:
        """Group-qualified plural as kube-apiserver prints it: ``pods``, ``statefulsets.apps``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def group_version(self) -> str:
        return self.api_version


def _core(plural: str, kind: str, namespaced: bool = True, status: bool = False, *short: str) -> ResourceType:
    return ResourceType("", "v1", plural, kind, namespaced, status, tuple(short), kind.lower())


def _grouped(group: str, plural: str, kind: str, namespaced: bool, status: bool, *short: str) -> ResourceType:
    return ResourceType(group, "v1", plural, kind, namespaced, status, tuple(short), kind.lower())


BUILTIN: tuple[ResourceType, ...] = (
    _core("namespaces", "Namespace", False, True, "ns"),
    _core("nodes", "Node", False, True, "no"),
    _core("pods", "Pod", True, True, "po"),
    _core("services", "Service", True, True, "svc"),
    _core("events", "Event", True, False, "ev"),
    _core("configmaps", "ConfigMap", True, False, "cm"),
    _core("secrets", "Secret", True, False),
    _core("serviceaccounts", "ServiceAccount", True, False, "sa"),
    _core("persistentvolumeclaims", "PersistentVolumeClaim", True, True, "pvc"),
    _core("resourcequotas", "ResourceQuota", True, True, "quota"),
    _core("limitranges", "LimitRange", True, False, "limits"),
    _grouped("apps", "statefulsets", "StatefulSet", True, True, "sts"),
    _grouped("storage.k8s.io", "storageclasses", "StorageClass", False, False, "sc"),
    _grouped("coordination.k8s.io", "leases", "Lease", True, False),
    _grouped(
        "apiextensions.k8s.io", "customresourcedefinitions", "CustomResourceDefinition", False, True, "crd", "crds"
    ),
)

NAMESPACES, NODES, PODS, SERVICES, EVENTS, CONFIGMAPS, SECRETS, SERVICEACCOUNTS, PVCS, RESOURCEQUOTAS = BUILTIN[:10]
LIMITRANGES, STATEFULSETS, STORAGECLASSES, LEASES, CRDS = BUILTIN[10:]
_BUILTIN_RESOURCES = frozenset(rtype.resource for rtype in BUILTIN)
# Built-in kinds whose registry strategy keeps metadata.generation (v1.31: Pods do not yet); custom resources do.
_WITH_GENERATION = frozenset({STATEFULSETS.resource, CRDS.resource})
# Built-in kinds whose DELETE answers with the object (ReturnDeletedObject); the others answer a Status.
RETURNS_DELETED_OBJECT = frozenset(
    {
        PODS.resource,
        SERVICES.resource,
        SERVICEACCOUNTS.resource,
        PVCS.resource,
        RESOURCEQUOTAS.resource,
        STORAGECLASSES.resource,
    }
)


def tracks_generation(rtype: ResourceType) -> bool:
    return rtype.resource in _WITH_GENERATION or rtype.resource not in _BUILTIN_RESOURCES


def crd_resource_types(crd: dict[str, Any]) -> list[ResourceType]:
    """One ResourceType per served version of a CustomResourceDefinition."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    namespaced = spec.get("scope", "Namespaced") == "Namespaced"
    return [
        ResourceType(
            group=spec.get("group", ""),
            version=version["name"],
            plural=names.get("plural", ""),
            kind=names.get("kind", ""),
            namespaced=namespaced,
            has_status="status" in (version.get("subresources") or {}),
            short_names=tuple(names.get("shortNames") or ()),
            singular=names.get("singular") or names.get("kind", "").lower(),
        )
        for version in spec.get("versions") or []
        if version.get("served", True)
    ]


@dataclass
class Registry:
    """Lookup of served resource types by group/version/plural and by kind."""

    _types: dict[tuple[str, str, str], ResourceType] = field(default_factory=dict)

    @classmethod
    def with_builtins(cls) -> Registry:
        registry = cls()
        for rtype in BUILTIN:
            registry.add(rtype)
        return registry

    def add(self, rtype: ResourceType) -> None:
        self._types[(rtype.group, rtype.version, rtype.plural)] = rtype

    def remove_resource(self, resource: str) -> list[ResourceType]:
        gone = [rt for rt in self._types.values() if rt.resource == resource]
        for rtype in gone:
            del self._types[(rtype.group, rtype.version, rtype.plural)]
        return gone

    def find(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        for rtype in self._types.values():
            if rtype.kind == kind and rtype.api_version == api_version:
                return rtype
        return None

    def all(self) -> list[ResourceType]:
        return list(self._types.values())

    def groups(self) -> dict[str, list[str]]:
        """Group name → served versions, core group excluded, in registration order."""
        result: dict[str, list[str]] = {}
        for rtype in self._types.values():
            if rtype.group:
                versions = result.setdefault(rtype.group, [])
                if rtype.version not in versions:
                    versions.append(rtype.version)
        return result

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [rt for rt in self._types.values() if rt.group == group and rt.version == version]

    def storage_keys(self) -> set[str]:
        return {rt.resource for rt in self._types.values()}
