"""kubectl-like commands on user objects: apply, get, describe, delete, scale, wait."""

import sys
from collections.abc import Callable
from typing import Annotated

import typer

from fedstate.api import CONFIGMAP, MONGODB, MULTICLOUD_MONGODB, Resource
from fedstate.api.resources import DEFAULT_NAMESPACE
from fedstate.api.views import ObjectView, merge

from . import manifests
from .client import ApiFailure, Gateway
from .describe import print_configmap_description, print_description, print_mongodb_description
from .errors import CliError, print_error, print_error_text
from .options import (
    KIND_NAMES,
    AllNamespaces,
    ClusterOption,
    KindArgument,
    NameArgument,
    NamesArgument,
    Namespace,
    OptionalName,
    Output,
    Printing,
    Selector,
    Server,
    connect,
    parse_output,
    resource_of,
    show,
)
from .render import print_lines
from .tables import Table, cluster_table, configmap_table, mcm_table, mongodb_table, target_cluster, with_namespace
from .topology_commands import show_clusters
from .waiting import WaitFor, parse_for, parse_timeout, wait_until
from .watching import Printer, follow, follow_clusters

_TABLES = {MULTICLOUD_MONGODB: mcm_table, MONGODB: mongodb_table, CONFIGMAP: configmap_table}
_REPLICA_FIELD = {MULTICLOUD_MONGODB: "replicaset", MONGODB: "members"}
DESCRIBED_EVENTS = 20


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


def _table(resource: Resource, items: list[ObjectView], wide: bool, all_ns: bool) -> Table:
    table = _TABLES[resource](items, wide)
    return with_namespace(table, items) if all_ns else table


def _qualified_name(resource: Resource) -> Callable[[ObjectView], str]:
    """``-o name``'s form: ``multicloudmongodb.middleware.fedstate.io/rs1``."""
    return lambda item: f"{resource.qualified}/{item.name}"


def _show_objects(
    resource: Resource, items: list[ObjectView], document: object, printing: Printing, all_ns: bool
) -> None:
    show(
        printing,
        document,
        lambda wide: _table(resource, items, wide, all_ns),
        lambda: [_qualified_name(resource)(item) for item in items],
    )


def get(
    kind: KindArgument,
    name: OptionalName = None,
    output: Output = None,
    namespace: Namespace = DEFAULT_NAMESPACE,
    all_namespaces: AllNamespaces = False,
    selector: Selector = None,
    cluster: ClusterOption = None,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="after listing, print each change as it comes (Ctrl-C ends)")
    ] = False,
    server: Server = None,
) -> None:
    """Show objects (mcm, mongodb, configmap) or clusters: a table, -o wide, yaml, json, name or jsonpath=..."""
    printing = parse_output(output)
    if kind in ("clusters", "cluster"):
        if watch:
            follow_clusters(connect(server), name, Printer(printing, cluster_table, lambda c: f"cluster/{c.name}"))
        else:
            show_clusters(connect(server), name, printing)
        return
    resource, client = resource_of(kind), connect(server)
    if name is not None and selector is not None:
        raise CliError("name cannot be provided when a selector is specified")
    if watch:
        printer = Printer(
            printing, lambda items, wide: _table(resource, items, wide, all_namespaces), _qualified_name(resource)
        )
        scope = None if all_namespaces else namespace
        follow(client, resource, scope, name, selector, cluster if resource.cluster_scoped_target else None, printer)
        return
    if name is not None:
        obj = client.get_object(resource, namespace, name, cluster if resource.cluster_scoped_target else None)
        if cluster and resource.cluster_scoped_target and target_cluster(obj) != cluster:
            raise CliError(
                f'{resource.qualified} "{name}" not found in cluster {cluster} (it runs in {target_cluster(obj)})'
            )
        _show_objects(resource, [obj], obj.to_wire(), printing, False)
        return
    listing = client.list_objects(resource, None if all_namespaces else namespace, selector)
    if cluster:
        listing.items = [i for i in listing.items if target_cluster(i) == cluster]
    if printing.table and not listing.items:
        print("No resources found" + ("" if all_namespaces else f" in {namespace} namespace") + ".", file=sys.stderr)
        return
    _show_objects(resource, listing.items, listing.to_wire(), printing, all_namespaces)


def describe(
    kind: KindArgument,
    name: NameArgument,
    namespace: Namespace = DEFAULT_NAMESPACE,
    cluster: ClusterOption = None,
    server: Server = None,
) -> None:
    """Spec summary, status, conditions, members (per cluster, with roles), the placement's reasons, recent events."""
    resource, client = resource_of(kind), connect(server)
    obj = client.get_object(resource, namespace, name, cluster if resource.cluster_scoped_target else None)
    if resource is CONFIGMAP:
        print_configmap_description(obj)
        return
    events = merge(client.events(namespace, name).items)[-DESCRIBED_EVENTS:]
    if resource is MULTICLOUD_MONGODB:
        print_description(obj, client.placement(resource, namespace, name), events)
    else:
        print_mongodb_description(obj, events)


Target = tuple[Resource, str, str]


def _targets(kind: str | None, names: list[str], filename: str | None, namespace: str) -> list[Target]:
    """What ``delete`` removes: ``KIND NAME...``, or the objects a manifest file describes (``-f``)."""
    if filename is not None:
        if kind is not None:
            raise CliError("when -f is given, name no kind or object on the command line")
        return [(m.resource, m.namespace, m.name) for m in manifests.load(filename, namespace)]
    if kind is None or not names:
        raise CliError("you must name a kind and at least one object (fedstate delete mcm NAME), or give -f FILE")
    resource = resource_of(kind)
    return [(resource, namespace, name) for name in names]


def _delete_one(client: Gateway, target: Target, ignore_not_found: bool) -> bool:
    """Ask for the deletion and say so; False when the gateway refused (a missing object counts unless ignored)."""
    resource, namespace, name = target
    try:
        client.delete_object(resource, namespace, name)
    except ApiFailure as failure:
        if failure.not_found and ignore_not_found:
            return True
        print_error_text(failure.text)
        return False
    print_lines(f'{resource.qualified} "{name}" deleted')
    return True


def wait_gone(client: Gateway, targets: list[Target], timeout: float) -> None:
    """Poll until every target is gone; ``timeout`` 0 waits without limit (kubectl's ``--timeout=0``)."""

    def first_left() -> ObjectView | None:
        return next((o for r, ns, n in targets if (o := client.find_object(r, ns, n)) is not None), None)

    wait_until(first_left, WaitFor("delete"), timeout or float("inf"))


def delete(
    kind: Annotated[str | None, typer.Argument(help=f"{KIND_NAMES}; omit with -f")] = None,
    names: NamesArgument = None,
    filename: Annotated[str | None, typer.Option("--filename", "-f", help="delete the objects of a manifest")] = None,
    namespace: Namespace = DEFAULT_NAMESPACE,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="wait until the objects are gone (--wait=false: do not)")
    ] = True,
    ignore_not_found: Annotated[
        bool, typer.Option("--ignore-not-found", help="treat an object that does not exist as deleted")
    ] = False,
    timeout: Annotated[str, typer.Option("--timeout", help="how long to wait: 0 (no limit), 90s, 3m")] = "0",
    server: Server = None,
) -> None:
    """Delete objects and, as kubectl does, wait until they are gone (their members removed from every cluster)."""
    targets, seconds = _targets(kind, names or [], filename, namespace), parse_timeout(timeout)
    client = connect(server)
    deleted = [t for t in targets if _delete_one(client, t, ignore_not_found)]
    if wait:
        wait_gone(client, deleted, seconds)
    if len(deleted) < len(targets):
        raise typer.Exit(1)


def scale(
    kind: KindArgument,
    name: NameArgument,
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
    print_lines(f"{resource.qualified}/{name} scaled")


def wait(
    kind: KindArgument,
    name: NameArgument,
    condition: Annotated[str, typer.Option("--for", help="state=Health | condition=ServerReady | delete")],
    timeout: Annotated[str, typer.Option("--timeout", help="seconds, or 30s / 3m")] = "30",
    namespace: Namespace = DEFAULT_NAMESPACE,
    server: Server = None,
) -> None:
    """Block until the object reaches a state, has a condition, or is gone."""
    wanted, seconds = parse_for(condition), parse_timeout(timeout)
    resource, client = resource_of(kind), connect(server)
    wait_until(lambda: client.find_object(resource, namespace, name), wanted, seconds)
    print_lines(f"{resource.qualified}/{name} condition met")


def recover(
    kind: KindArgument,
    name: NameArgument,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="required: the survivors' config is forced and writes not replicated to them are lost"
        ),
    ] = False,
    namespace: Namespace = DEFAULT_NAMESPACE,
    server: Server = None,
) -> None:
    """Recover a replica set that lost its voting majority: MongoDB's forced reconfig on the freshest survivor,
    new members for the lost ones. Refused while a majority is reachable, and without --force."""
    resource, client = resource_of(kind), connect(server)
    if not resource.recoverable:
        raise CliError(f"{resource.kind} cannot be recovered: only a MultiCloudMongoDB")
    try:
        client.recover_object(resource, namespace, name, force)
    except ApiFailure as failure:
        print_error_text(failure.text)
        raise typer.Exit(1) from None
    print_lines(
        f"{resource.qualified}/{name} recovery requested: the freshest surviving member is reconfigured with force; "
        "writes not replicated to the survivors are lost"
    )


def register(app: typer.Typer) -> None:
    for command in (apply, get, describe, delete, scale, wait, recover):
        app.command()(command)
