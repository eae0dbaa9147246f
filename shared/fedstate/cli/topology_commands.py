"""Commands about the federation rather than one object: ``clusters`` and ``events``."""

from __future__ import annotations

from typing import Annotated

import typer

from .client import Gateway
from .options import AllNamespaces, Output, OutputFormat, Server, connect
from .render import print_document, print_table
from .tables import cluster_table, event_table


def show_clusters(client: Gateway, name: str | None, output: OutputFormat | None) -> None:
    """Member clusters with health, VIP, nodes and free/allocatable capacity."""
    clusters = [client.cluster(name)] if name else client.clusters().items
    if output in (OutputFormat.JSON, OutputFormat.YAML):
        document = clusters[0].to_wire() if name else {"items": [c.to_wire() for c in clusters]}
        print_document(document, output)
    else:
        print_table(*cluster_table(clusters, output == OutputFormat.WIDE))


def clusters(
    name: Annotated[str | None, typer.Argument()] = None, output: Output = None, server: Server = None
) -> None:
    """Member clusters (same as `get clusters`)."""
    show_clusters(connect(server), name, output)


def events(
    name: Annotated[str | None, typer.Argument(help="an instance name; all instances when omitted")] = None,
    namespace: Annotated[str | None, typer.Option("--namespace", "-n")] = None,
    all_namespaces: AllNamespaces = False,
    output: Output = None,
    server: Server = None,
) -> None:
    """Recent events, oldest first: of one instance, one namespace, or everything."""
    namespace = None if all_namespaces else (namespace or ("default" if name else None))
    found = connect(server).events(namespace, name)
    if output in (OutputFormat.JSON, OutputFormat.YAML):
        print_document(found.to_wire(), output)
    else:
        print_table(*event_table(found.items))


def register(app: typer.Typer) -> None:
    app.command()(clusters)
    app.command()(events)
