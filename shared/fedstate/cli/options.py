"""Options several commands share, declared once, and the one place ``-o`` is parsed and printed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from fedstate.api import RESOURCES, Resource, lookup
from fedstate.labels import MAX_LABEL_LENGTH, is_dns_label

from .client import SERVER_ENV, Gateway, find_server, find_token
from .errors import CliError
from .jsonpath import render
from .render import print_document, print_lines, print_table

OUTPUT_FORMATS = ("json", "jsonpath=TEMPLATE", "name", "wide", "yaml")
KIND_NAMES = " | ".join(name for r in RESOURCES for name in (r.short_names[0], r.plural))

Server = Annotated[
    str | None,
    typer.Option("--server", help=f"gateway URL (default: ${SERVER_ENV}, else the stack found; see `fedstate --help`)"),
]


def _labels(field: str) -> Callable[[Any], Any]:
    """A check that every value given is a DNS-1123 label, refused before anything is asked of the server."""

    def check(value: Any) -> Any:
        for given in value if isinstance(value, list) else [value]:
            if given is not None and not is_dns_label(given):
                raise typer.BadParameter(
                    f"{given!r} ({field}) is not a DNS-1123 label: lowercase letters, digits and '-', "
                    f"at most {MAX_LABEL_LENGTH}, starting and ending with a letter or digit"
                )
        return value

    return check


Namespace = Annotated[str, typer.Option("--namespace", "-n", help="namespace", callback=_labels("metadata.namespace"))]
NameArgument = Annotated[str, typer.Argument(help="the object's name", callback=_labels("metadata.name"))]
OptionalName = Annotated[
    str | None, typer.Argument(help="one object; all when omitted", callback=_labels("metadata.name"))
]
NamesArgument = Annotated[
    list[str] | None, typer.Argument(help="the objects to delete", callback=_labels("metadata.name"))
]
AllNamespaces = Annotated[bool, typer.Option("--all-namespaces", "-A", help="list across all namespaces")]
Output = Annotated[str | None, typer.Option("--output", "-o", help=", ".join(OUTPUT_FORMATS))]
ClusterOption = Annotated[str | None, typer.Option("--cluster", help="member cluster of a MongoDB object")]
KindArgument = Annotated[str, typer.Argument(help=f"{KIND_NAMES} (singular, plural or short name)")]
Selector = Annotated[
    str | None,
    typer.Option("--selector", "-l", help="label selector: tier=db, tier!=db, tier in (db,cache), tier, !tier"),
]


@dataclass(frozen=True)
class Printing:
    """What ``-o`` asked for: a table (``wide`` or not), a document (json, yaml), names, or a JSONPath template."""

    format: str = "table"
    template: str = ""

    @property
    def wide(self) -> bool:
        return self.format == "wide"

    @property
    def table(self) -> bool:
        return self.format in ("table", "wide")


def parse_output(text: str | None) -> Printing:
    """``-o``'s value; kubectl's error for one it does not know."""
    if text is None:
        return Printing()
    kind, equals, template = text.partition("=")
    if kind == "jsonpath" and equals and template:
        return Printing("jsonpath", template)
    if not equals and kind in ("json", "yaml", "wide", "name"):
        return Printing(kind)
    allowed = ",".join(f.partition("=")[0] for f in OUTPUT_FORMATS)
    raise CliError(f"unable to match a printer suitable for the output format {text!r}, allowed formats are: {allowed}")


def show(
    printing: Printing,
    document: Any,
    table: Callable[[bool], tuple[Sequence[str], Sequence[Sequence[str]]]],
    names: Callable[[], list[str]],
) -> None:
    """Print ``document`` (the wire form) as ``-o`` asked; ``table(wide)`` and ``names()`` are built only if asked."""
    if printing.format in ("json", "yaml"):
        print_document(document, printing.format)
    elif printing.format == "name":
        print_lines(*names())
    elif printing.format == "jsonpath":
        print(render(printing.template, document), end="")
    else:
        print_table(*table(printing.wide))


class _Invocation:
    """What the top-level callback saw on this invocation (``fedstate --server URL <command>``)."""

    server: str | None = None


def set_global_server(server: str | None) -> None:
    _Invocation.server = server


def connect(server: str | None) -> Gateway:
    """The gateway named by this command's ``--server``, the global one, the env, or the stack found."""
    return Gateway(find_server(server or _Invocation.server), token=find_token())


def resource_of(kind: str) -> Resource:
    try:
        return lookup(kind)
    except KeyError:
        known = ", ".join(n for r in RESOURCES for n in r.names)
        raise CliError(f"unknown resource type {kind!r}: use one of {known}, or clusters") from None
