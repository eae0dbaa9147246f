"""``fedstate get KIND [NAME] -w``: the objects, then each change as it comes, as ``kubectl get --watch`` prints them.

A table prints its header once, then a row an event; ``-o json``/``yaml``/``name``/``jsonpath`` print each object
on its own (YAML documents separated by ``---``). The list and the watch are one: the watch starts at the list's
``resourceVersion``, so no change between them is lost. ``get clusters -w`` prints every cluster, then a row at
each change of one: a heartbeat, a health judged anew. Ctrl-C ends it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

from fedstate.api.views import MemberClusterView, View

from .jsonpath import render
from .render import print_document, print_table
from .tables import Table, target_cluster

if TYPE_CHECKING:
    from fedstate.api import Resource
    from fedstate.api.views import ObjectView

    from .client import Gateway
    from .options import Printing

V = TypeVar("V", bound=View)


class Printer(Generic[V]):
    """Prints objects as they come, each flushed at once (the reader may be a pipe)."""

    def __init__(
        self, printing: Printing, table: Callable[[list[V], bool], Table], name_of: Callable[[V], str]
    ) -> None:
        self.printing, self.table, self.name_of = printing, table, name_of
        self.printed = 0

    def print(self, items: list[V]) -> None:
        if self.printing.table and items:
            print_table(*self.table(items, self.printing.wide), header=self.printed == 0)
            self.printed += len(items)
        elif not self.printing.table:
            for item in items:
                self._print_one(item)
        sys.stdout.flush()

    def _print_one(self, item: V) -> None:
        output = self.printing.format
        if output == "name":
            print(self.name_of(item))
        elif output == "jsonpath":
            print(render(self.printing.template, item.to_wire()))
        else:
            if output == "yaml" and self.printed:
                print("---")
            print_document(item.to_wire(), output)
        self.printed += 1


def follow(
    client: Gateway,
    resource: Resource,
    namespace: str | None,
    name: str | None,
    selector: str | None,
    cluster: str | None,
    printer: Printer[ObjectView],
) -> None:
    """Print what is there, then every change until interrupted."""
    by_name = f"metadata.name={name}" if name else None

    def wanted(items: list[ObjectView]) -> list[ObjectView]:
        return [i for i in items if cluster is None or target_cluster(i) == cluster]

    listing = client.list_objects(resource, namespace, selector, by_name)
    printer.print(wanted(listing.items))
    since = str(listing.wire.get("metadata", {}).get("resourceVersion", ""))
    try:
        for _, obj in client.watch_objects(resource, namespace, since, selector, by_name):
            printer.print(wanted([obj]))
    except KeyboardInterrupt:
        return


def follow_clusters(client: Gateway, name: str | None, printer: Printer[MemberClusterView]) -> None:
    """Print every cluster (or the one named), then each change of one, until interrupted."""
    try:
        for _, obj in client.watch("/clusters"):
            cluster = MemberClusterView(obj.get("status") or {})
            if name in (None, cluster.name):
                printer.print([cluster])
    except KeyboardInterrupt:
        return
