"""kubectl-like commands on user objects: apply, get, describe, delete, scale, wait."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from fedstate.api import CONFIGMAP, MONGODB, MULTICLOUD_MONGODB, KubeList, KubeObject, Resource
from fedstate.api.resources import DEFAULT_NAMESPACE

from . import manifests
from .client import ApiFailure, Gateway
from .describe import print_description
from .errors import CliError, print_error
from .options import (
    AllNamespaces,
    ClusterOption,
    KindArgument,
    Namespace,
    Output,
    OutputFormat,
    Server,
    connect,
    resource_of,
)
from .render import print_document, print_lines, print_table
from .tables import Table, configmap_table, mcm_table, mongodb_table, target_cluster, with_namespace
from .topology_commands import show_clusters
from .waiting import parse_for, parse_timeout, wait_until

_TABLES = {MULTICLOUD_MONGODB: mcm_table, MONGODB: mongodb_table, CONFIGMAP: configmap_table}
_REPLICA_FIELD = {MULTICLOUD_MONGODB: "replicaset", MONGODB: "members"}


def qualified(resource: Resource) -> str:
    return f"{resource.kind.lower()}.{resource.group}" if resource.group else resource.kind.lower()


def apply_manifest(client: Gateway, manifest: manifests.Manifest, cluster: str | None = None) -> None:
    """PUT one manifest and print what happened (created / configured / unchanged); ``ApiFailure`` if refused."""
    target = cluster if manifest.resource.cluster_scoped_target else None
    _, outcome = client.put_object(manifest.resource, manifest.body, target)
    print_lines(f"{manifest.label} {'configured' if outcome == 'updated' else outcome}")


def _apply_one(client: Gateway, manifest: manifests.Manifest, cluster: str | None) -> bool:
    try:
        apply_manifest(client, manifest, cluster)
    except ApiFailure as failure:
        details = failure.status.details
        names_the_object = details is not None and details.name == manifest.name
        print_error(failure.message if names_the_object else f"{manifest.label}: {failure.message}")
        return False
    return True


def apply(
    filename: Annotated[
        list[str], typer.Option("--filename", "-f", help="YAML or JSON file, directory, or - for stdin (repeatable)")
    ],
    recursive: Annotated[
        bool, typer.Option("--recursive", "-R", help="with -f DIR, also the files of its subdirectories")
    ] = False,
    namespace: Annotated[str | None, typer.Option("--namespace", "-n")] = None,
    cluster: ClusterOption = None,
    server: Server = None,
) -> None:
    """Create or replace every object of multi-document YAML files (ConfigMap, MultiCloudMongoDB, MongoDB)."""
    documents = [manifest for source in filename for manifest in manifests.load(source, namespace, recursive)]
    if not documents:
        raise CliError("no objects passed to apply")
    client = connect(server)
    results = [_apply_one(client, manifest, cluster) for manifest in documents]
    if not all(results):
        raise typer.Exit(1)


def _table(resource: Resource, items: list[KubeObject], output: OutputFormat | None, all_ns: bool) -> Table:
    table = _TABLES[resource](items, output == OutputFormat.WIDE)
    return with_namespace(table, items) if all_ns else table


def get(
    kind: KindArgument,
    name: Annotated[str | None, typer.Argument()] = None,
    output: Output = None,
    namespace: Namespace = DEFAULT_NAMESPACE,
    all_namespaces: AllNamespaces = False,
    cluster: ClusterOption = None,
    server: Server = None,
) -> None:
    """Show objects (mcm, mongodb, configmap) or clusters, as a table, YAML or JSON."""
    if kind in ("clusters", "cluster"):
        show_clusters(connect(server), name, output)
        return
    resource, client = resource_of(kind), connect(server)
    if name is not None:
        obj = client.get_object(resource, namespace, name)
        if cluster and resource.cluster_scoped_target and target_cluster(obj) != cluster:
            raise CliError(
                f'{qualified(resource)} "{name}" not found in cluster {cluster} (it runs in {target_cluster(obj)})'
            )
        if output in (OutputFormat.JSON, OutputFormat.YAML):
            print_document(obj.to_wire(), output)
        else:
            print_table(*_table(resource, [obj], output, False))
        return
    listing = client.list_objects(resource, None if all_namespaces else namespace)
    if cluster:
        listing.items = [i for i in listing.items if target_cluster(i) == cluster]
    _print_list(resource, listing, output, namespace, all_namespaces)


def _print_list(resource: Resource, listing: KubeList, output: OutputFormat | None, ns: str, all_ns: bool) -> None:
    if output in (OutputFormat.JSON, OutputFormat.YAML):
        print_document(listing.to_wire(), output)
    elif not listing.items:
        print("No resources found" + ("" if all_ns else f" in {ns} namespace") + ".", file=sys.stderr)
    else:
        print_table(*_table(resource, listing.items, output, all_ns))


def describe(
    kind: KindArgument,
    name: str,
    namespace: Namespace = DEFAULT_NAMESPACE,
    server: Server = None,
) -> None:
    """Spec summary, conditions, members per cluster with roles, the placement's reasons and recent events."""
    resource, client = resource_of(kind), connect(server)
    obj = client.get_object(resource, namespace, name)
    placement = client.placement(resource, namespace, name) if resource is MULTICLOUD_MONGODB else None
    events = client.events(namespace, name).items[-20:]
    if resource is MULTICLOUD_MONGODB:
        print_description(obj, placement, events)
    else:
        print_document(obj.to_wire(), OutputFormat.YAML)


def delete(kind: KindArgument, name: str, namespace: Namespace = DEFAULT_NAMESPACE, server: Server = None) -> None:
    """Delete an object; its members are removed by the federation in the background (see `wait --for delete`)."""
    resource = resource_of(kind)
    connect(server).delete_object(resource, namespace, name)
    print_lines(f'{qualified(resource)} "{name}" deleted')


def scale(
    kind: KindArgument,
    name: str,
    replicas: Annotated[int, typer.Option("--replicas", min=1, help="the new number of members")],
    namespace: Namespace = DEFAULT_NAMESPACE,
    server: Server = None,
) -> None:
    """Change the number of replica-set members (read, change, replace)."""
    resource, client = resource_of(kind), connect(server)
    if resource not in _REPLICA_FIELD:
        raise CliError(f"{resource.kind} cannot be scaled")
    obj = client.get_object(resource, namespace, name)
    body = obj.to_wire()
    body.pop("status", None)
    body["spec"] = {**(obj.spec or {}), _REPLICA_FIELD[resource]: replicas}
    client.put_object(resource, body)
    print_lines(f"{qualified(resource)}/{name} scaled")


def wait(
    kind: KindArgument,
    name: str,
    condition: Annotated[str, typer.Option("--for", help="state=Health | condition=ServerReady | delete")],
    timeout: Annotated[str, typer.Option("--timeout", help="seconds, or 30s / 3m")] = "30",
    namespace: Namespace = DEFAULT_NAMESPACE,
    server: Server = None,
) -> None:
    """Block until the object reaches a state, has a condition, or is gone."""
    wanted, seconds = parse_for(condition), parse_timeout(timeout)
    resource, client = resource_of(kind), connect(server)
    wait_until(lambda: client.find_object(resource, namespace, name), wanted, seconds)
    print_lines(f"{qualified(resource)}/{name} condition met")


def register(app: typer.Typer) -> None:
    for command in (apply, get, describe, delete, scale, wait):
        app.command()(command)
