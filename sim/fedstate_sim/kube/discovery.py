"""Discovery documents (/version, /api, /api/v1, /apis, /apis/<group>[/<version>]) built from the
registry, so CRD groups appear as soon as a CRD is created and ``DynamicClient`` finds them.
"""

from __future__ import annotations

from fedstate_sim.config import SIMULATOR_BANNER
from fedstate_sim.kube.meta import Obj
from fedstate_sim.kube.resources import ALL_VERBS, Registry, ResourceType

_SUBRESOURCE_VERBS = ["get", "patch", "update"]


def version_info() -> Obj:
    return {
        "major": "1",
        "minor": "31",
        "gitVersion": "v1.31.0-fedstate-sim",
        "gitCommit": "fedstate-simulator",
        "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z",
        "goVersion": "python3 (" + SIMULATOR_BANNER + ")",
        "compiler": "fedstate-sim",
        "platform": "linux/amd64",
    }


def core_versions(server_address: str) -> Obj:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group(name: str, versions: list[str]) -> Obj:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def group_list(registry: Registry) -> Obj:
    groups = [_group(name, versions) for name, versions in registry.groups().items()]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def group(registry: Registry, name: str) -> Obj | None:
    versions = registry.groups().get(name)
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}


def _resource_entries(rtype: ResourceType) -> list[Obj]:
    entry: Obj = {
        "name": rtype.plural,
        "singularName": rtype.singular,
        "namespaced": rtype.namespaced,
        "kind": rtype.kind,
        "verbs": list(ALL_VERBS),
    }
    if rtype.short_names:
        entry["shortNames"] = list(rtype.short_names)
    entries = [entry]
    if rtype.has_status:
        entries.append(
            {
                "name": f"{rtype.plural}/status",
                "singularName": "",
                "namespaced": rtype.namespaced,
                "kind": rtype.kind,
                "verbs": _SUBRESOURCE_VERBS,
            }
        )
    return entries


def resource_list(registry: Registry, group_name: str, version: str) -> Obj | None:
    types = registry.in_group_version(group_name, version)
    if not types:
        return None
    resources = [entry for rtype in types for entry in _resource_entries(rtype)]
    group_version = f"{group_name}/{version}" if group_name else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}
