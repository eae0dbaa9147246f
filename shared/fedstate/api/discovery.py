"""API discovery as kube-apiserver serves it (``/api``, ``/apis``, ``/apis/<group>``, ``/apis/<group>/<version>``),
built from the one table of resources, so that kubectl and the official clients find the kinds by themselves.

The shapes are Kubernetes' ``APIVersions``, ``APIGroupList``, ``APIGroup`` and ``APIResourceList``
(``k8s.io/apimachinery/pkg/apis/meta/v1``); every resource takes the verbs the gateway serves.
"""

from __future__ import annotations

from itertools import groupby
from typing import Literal

from pydantic import Field

from fedstate.models.base import WireModel

from .resources import RESOURCES, Resource

VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


class GroupVersion(WireModel):
    group_version: str
    version: str


class APIGroup(WireModel):
    kind: Literal["APIGroup"] | None = None  # only when served on its own
    api_version: Literal["v1"] | None = None
    name: str
    versions: list[GroupVersion]
    preferred_version: GroupVersion


class APIGroupList(WireModel):
    kind: Literal["APIGroupList"] = "APIGroupList"
    api_version: Literal["v1"] = "v1"
    groups: list[APIGroup]


class APIResource(WireModel):
    name: str
    singular_name: str
    namespaced: bool
    kind: str
    verbs: list[str]
    short_names: list[str] = Field(default_factory=list)


class APIResourceList(WireModel):
    kind: Literal["APIResourceList"] = "APIResourceList"
    api_version: Literal["v1"] = "v1"
    group_version: str
    resources: list[APIResource]


class ServerAddress(WireModel):
    client_cidr: str = Field(default="0.0.0.0/0", alias="clientCIDR")
    server_address: str = ""


class APIVersions(WireModel):
    """``/api``: the versions of the core group."""

    kind: Literal["APIVersions"] = "APIVersions"
    versions: list[str]
    server_address_by_client_cidrs: list[ServerAddress] = Field(
        default_factory=lambda: [ServerAddress()], alias="serverAddressByClientCIDRs"
    )


def _api_resource(resource: Resource) -> APIResource:
    return APIResource(
        name=resource.plural,
        singular_name=resource.singular,
        namespaced=True,
        kind=resource.kind,
        verbs=VERBS,
        short_names=list(resource.short_names),
    )


def resource_list(api_version: str) -> APIResourceList | None:
    """The resources of one group version (``v1`` for the core group); None when none is served there."""
    served = [_api_resource(r) for r in RESOURCES if r.api_version == api_version]
    return APIResourceList(group_version=api_version, resources=served) if served else None


def core_versions() -> APIVersions:
    return APIVersions(versions=sorted({r.api_version for r in RESOURCES if not r.group}))


def groups() -> list[APIGroup]:
    """Every named API group with its versions, the first served being the preferred one."""
    named = sorted((r for r in RESOURCES if r.group), key=lambda r: r.group)
    found = []
    for name, members in groupby(named, key=lambda r: r.group):
        versions = [
            GroupVersion(group_version=v, version=v.partition("/")[2])
            for v in dict.fromkeys(r.api_version for r in members)
        ]
        found.append(APIGroup(name=name, versions=versions, preferred_version=versions[0]))
    return found


def group(name: str) -> APIGroup | None:
    found = next((g for g in groups() if g.name == name), None)
    return None if found is None else found.model_copy(update={"kind": "APIGroup", "api_version": "v1"})
