"""The REST resources the gateway serves and the CLI calls, with their Kubernetes-style paths.

One table, read by both sides: the gateway registers its routes from it, the CLI maps a
manifest's ``kind`` (or a name typed on the command line) to a path through it. It is also the
one home of the names a user may type for a kind, as kubectl's discovery gives them: the kind
(any case), the singular, the plural, the short names and their plurals, each optionally
followed by the API group (``multicloudmongodbs.middleware.fedstate.io``).
"""

from __future__ import annotations

from dataclasses import dataclass

from fedstate.apiversion import API_VERSION
from fedstate.bus.names import Kind

CORE_VERSION = "v1"
CLUSTER_ANNOTATION = "fedstate.io/cluster"
# Where an object was created, when not through fedstate: a custom resource on a member cluster's own API.
SOURCE_ANNOTATION = "fedstate.io/source"
SOURCE_CUSTOM_RESOURCE = "custom-resource"
DEFAULT_NAMESPACE = "default"
# A PUT answers 201 or 200; this header says whether a 200 changed anything (updated | unchanged).
OUTCOME_HEADER = "Fedstate-Outcome"


@dataclass(frozen=True)
class Resource:
    """One kind of user object: its wire names, its bus kind and where it lives in the REST tree."""

    kind: str  # as in a manifest: MultiCloudMongoDB
    plural: str  # as in a path: multicloudmongodbs
    api_version: str
    bus_kind: Kind
    short_names: tuple[str, ...] = ()
    # Single-cluster objects name the member cluster that runs them (?cluster= or the annotation).
    cluster_scoped_target: bool = False
    # A replica set over member clusters whose voting majority is lost can be recovered with force
    # (``POST <item>/recover?force=true``, ``fedstate recover``).
    recoverable: bool = False

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def prefix(self) -> str:
        """``/apis/<group>/<version>`` for API groups, ``/api/v1`` for the core group."""
        return f"/apis/{self.api_version}" if self.group else f"/api/{self.api_version}"

    def all_namespaces_path(self) -> str:
        return f"{self.prefix}/{self.plural}"

    def collection_path(self, namespace: str) -> str:
        return f"{self.prefix}/namespaces/{namespace}/{self.plural}"

    def item_path(self, namespace: str, name: str) -> str:
        return f"{self.collection_path(namespace)}/{name}"

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def qualified(self) -> str:
        """kubectl's ``multicloudmongodb.middleware.fedstate.io`` (``configmap`` in the core group)."""
        return f"{self.singular}.{self.group}" if self.group else self.singular

    @property
    def qualified_plural(self) -> str:
        """What kubectl names in errors: ``multicloudmongodbs.middleware.fedstate.io``, ``configmaps``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def names(self) -> tuple[str, ...]:
        """Every name this resource answers to on the command line, without the group."""
        plurals = tuple(f"{short}s" for short in self.short_names)
        return (self.singular, self.plural, *self.short_names, *plurals)


MULTICLOUD_MONGODB = Resource(
    kind="MultiCloudMongoDB",
    plural="multicloudmongodbs",
    api_version=API_VERSION,
    bus_kind=Kind.MULTICLOUD_MONGODB,
    short_names=("mcm",),
    recoverable=True,
)
MONGODB = Resource(
    kind="MongoDB",
    plural="mongodbs",
    api_version=API_VERSION,
    bus_kind=Kind.MONGODB,
    short_names=("mdb",),
    cluster_scoped_target=True,
)
CONFIGMAP = Resource(
    kind="ConfigMap",
    plural="configmaps",
    api_version=CORE_VERSION,
    bus_kind=Kind.CONFIGMAP,
    short_names=("cm",),
)

RESOURCES: tuple[Resource, ...] = (MULTICLOUD_MONGODB, MONGODB, CONFIGMAP)


def by_kind(kind: str) -> Resource:
    """The resource of a manifest's ``kind``; ``KeyError`` names the kinds we know."""
    for resource in RESOURCES:
        if resource.kind == kind:
            return resource
    known = ", ".join(r.kind for r in RESOURCES)
    raise KeyError(f"unknown kind {kind!r}; fedstate serves {known}")


def lookup(name: str) -> Resource:
    """The resource a user means by ``mcm``, ``mcms``, ``multicloudmongodbs``, ``MongoDB``, ``mdb``, ``cm`` ..."""
    wanted, _, group = name.lower().partition(".")
    for resource in RESOURCES:
        if wanted in resource.names and group in ("", resource.group):
            return resource
    raise KeyError(f"unknown resource type {name!r}")
