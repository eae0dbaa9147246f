"""Commands about the federation rather than one object: ``clusters`` and ``events``."""

import sys
from typing import Annotated

import typer

from fedstate.api import MONGODB, MULTICLOUD_MONGODB
from fedstate.api.resources import DEFAULT_NAMESPACE
from fedstate.api.views import merge

from .client import Gateway
from .errors import CliError
from .options import AllNamespaces, Output, Printing, Server, connect, parse_output, show
from .tables import cluster_table, event_table


def show_clusters(client: Gateway, name: str | None, printing: Printing) -> None:
    """Member clusters with health, VIP, nodes and free/allocatable capacity."""
    clusters = [client.cluster(name)] if name else client.clusters().items
    document = clusters[0].to_wire() if name else {"items": [c.to_wire() for c in clusters]}
    show(
        printing, document, lambda wide: cluster_table(clusters, wide), lambda: [f"cluster/{c.name}" for c in clusters]
    )


def clusters(
    name: Annotated[str | None, typer.Argument()] = None, output: Output = None, server: Server = None
) -> None:
    """Member clusters (same as `get clusters`)."""
    show_clusters(connect(server), name, parse_output(output))


def check_exists(client: Gateway, namespace: str, name: str) -> None:
    """Events of a name nothing has: kubectl's NotFound, not an empty table.

    Events outlive their object (a deleted instance's still tell why), so only a name without
    events that is neither a MultiCloudMongoDB nor a MongoDB is refused, with ``get mcm NAME``'s error.
    """
    if client.find_object(MONGODB, namespace, name) is None:
        client.get_object(MULTICLOUD_MONGODB, namespace, name)


def _no_names() -> list[str]:
    raise CliError("-o name: events have no names; use -o json, yaml or jsonpath=...")


def events(
    name: Annotated[str | None, typer.Argument(help="an instance name; all instances when omitted")] = None,
    namespace: Annotated[str | None, typer.Option("--namespace", "-n")] = None,
    all_namespaces: AllNamespaces = False,
    output: Output = None,
    server: Server = None,
) -> None:
    """Recent events, oldest first; repeated events merged into one row, as kubectl shows them: 3m (x5 over 10m)."""
    printing, client = parse_output(output), connect(server)
    namespace = None if all_namespaces else (namespace or (DEFAULT_NAMESPACE if name else None))
    found = client.events(namespace, name)
    if name is not None and not found.items:
        check_exists(client, namespace or DEFAULT_NAMESPACE, name)
    if printing.table and not found.items:
        print("No events found" + (f" in {namespace} namespace" if namespace else "") + ".", file=sys.stderr)
        return
    series = merge(found.items)
    show(printing, found.to_wire(), lambda _: event_table(series), _no_names)


def register(app: typer.Typer) -> None:
    app.command()(clusters)
    app.command()(events)
