"""Options several commands share, declared once."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from fedstate.api import Resource, lookup

from .client import SERVER_ENV, Gateway, find_server
from .errors import CliError


class OutputFormat(StrEnum):
    YAML = "yaml"
    JSON = "json"
    WIDE = "wide"


Server = Annotated[
    str | None,
    typer.Option("--server", help=f"gateway URL (default: ${SERVER_ENV}, else the stack in ./.fedstate)"),
]
Namespace = Annotated[str, typer.Option("--namespace", "-n", help="namespace")]
AllNamespaces = Annotated[bool, typer.Option("--all-namespaces", "-A", help="list across all namespaces")]
Output = Annotated[OutputFormat | None, typer.Option("--output", "-o", help="yaml, json or wide")]
ClusterOption = Annotated[str | None, typer.Option("--cluster", help="member cluster of a MongoDB object")]
KindArgument = Annotated[str, typer.Argument(help="mcm | multicloudmongodb | mongodb | configmap")]


class _Invocation:
    """What the top-level callback saw on this invocation (``fedstate --server URL <command>``)."""

    server: str | None = None


def set_global_server(server: str | None) -> None:
    _Invocation.server = server


def connect(server: str | None) -> Gateway:
    """The gateway named by this command's ``--server``, the global one, the env, or ./.fedstate."""
    return Gateway(find_server(server or _Invocation.server))


def resource_of(kind: str) -> Resource:
    try:
        return lookup(kind)
    except KeyError:
        raise CliError(f"unknown resource type {kind!r}: use mcm, mongodb, configmap or clusters") from None
