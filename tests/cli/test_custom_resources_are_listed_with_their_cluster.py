"""A ``MongoDB`` created as a custom resource on a member cluster's own API, which that cluster's agent
mirrors to ``fs-local-objects``, is listed and shown by ``get mongodb`` with its cluster, like one applied
through fedstate; deleting it through fedstate is refused with where to delete it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from served_gateway import ServedGateway

from fedstate.bus.names import InstanceKey, Kind
from fedstate.bus.objects import LocalObject
from fedstate.models.mongodb import DataPlaneState, MongoDBStatus


def mirror(served: ServedGateway, name: str, cluster: str, **labels: str) -> None:
    """What the agent of ``cluster`` publishes for a custom resource it reconciles."""
    found = {
        "apiVersion": "middleware.fedstate.io/v1alpha1",
        "kind": "MongoDB",
        "metadata": {"name": name, "namespace": "default", "labels": labels, "resourceVersion": "42"},
        "spec": {"members": 1, "rootPassword": "cr-pass"},
    }
    status = MongoDBStatus(state=DataPlaneState.RUNNING)
    key = InstanceKey(served.tenant, "default", Kind.MONGODB, name).local_object_key(cluster)
    served.run(served.bus.local.put(key, LocalObject.of_custom_resource(found, served.tenant, cluster, status)))


def test_get_mongodb_lists_a_custom_resource_with_its_cluster(
    cli: Callable[..., Any], served: ServedGateway, name: str
) -> None:
    mirror(served, name, "member-3", team=name)
    rows = [line.split() for line in cli("get", "mongodb").stdout.splitlines()]
    assert [name, "member-3", "1", "Running"] == next(r for r in rows if r[0] == name)[:4]
    document = json.loads(cli("get", "mongodb", name, "-o", "json").stdout)
    annotations = document["metadata"]["annotations"]
    assert ("member-3", "custom-resource") == (annotations["fedstate.io/cluster"], annotations["fedstate.io/source"])
    assert "<redacted>" == document["spec"]["rootPassword"]
    assert f"mongodb.middleware.fedstate.io/{name}\n" == cli("get", "mdb", "-l", f"team={name}", "-o", "name").stdout
    assert "Cluster: member-3" in " ".join(cli("describe", "mongodb", name).stdout.split())


def test_one_name_in_two_clusters_is_picked_with_cluster(
    cli: Callable[..., Any], served: ServedGateway, name: str
) -> None:
    mirror(served, name, "member-1")
    mirror(served, name, "member-3")
    ambiguous = cli("get", "mongodb", name)
    assert 1 == ambiguous.exit_code
    assert "custom resource in several clusters (member-1, member-3)" in ambiguous.stderr
    rows = cli("get", "mongodb", name, "--cluster", "member-3").stdout.splitlines()
    assert [name, "member-3"] == rows[1].split()[:2]


def test_deleting_a_custom_resource_through_fedstate_says_where_to_delete_it(
    cli: Callable[..., Any], served: ServedGateway, name: str
) -> None:
    mirror(served, name, "member-3")
    result = cli("delete", "mongodb", name)
    assert 1 == result.exit_code
    assert "Error from server (MethodNotAllowed):" in result.stderr
    assert f"delete it there (kubectl --context member-3 delete mongodb {name})" in result.stderr
