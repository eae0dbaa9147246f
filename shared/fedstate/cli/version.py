"""``fedstate version`` (client, gateway and member-cluster versions, like kubectl version) and ``--version``."""

from typing import Annotated, Any

import typer

from .errors import CliError
from .options import Output, Server, connect, parse_output
from .render import print_document, print_lines


def client_version() -> str:
    from importlib.metadata import version  # reads the installed distributions: only when asked

    return version("fedstate")


def _server_part(server: str | None) -> dict[str, Any]:
    client = connect(server)
    clusters = {c.name: c.agent_version or "<unknown>" for c in client.clusters().items}
    return {"serverVersion": client.version().to_wire(), "memberClusters": clusters}


def version(
    client_only: Annotated[bool, typer.Option("--client", help="the client's version only; no gateway needed")] = False,
    output: Output = None,
    server: Server = None,
) -> None:
    """The client's version and, when the gateway answers, the server's and each member cluster's."""
    printing = parse_output(output)
    if printing.format not in ("table", "json", "yaml"):
        raise CliError(f"--output must be json or yaml, not {output!r}")
    document: dict[str, Any] = {"clientVersion": {"version": client_version()}}
    failure: CliError | None = None
    if not client_only:
        try:
            document.update(_server_part(server))
        except CliError as error:
            failure = error
    if printing.format in ("json", "yaml"):
        print_document(document, printing.format)
    else:
        print_lines(*version_lines(document))
    if failure is not None:
        raise failure


def version_lines(document: dict[str, Any]) -> list[str]:
    lines = [f"Client Version: {document['clientVersion']['version']}"]
    if "serverVersion" in document:
        lines.append(f"Server Version: {document['serverVersion']['version']}")
        clusters = document.get("memberClusters") or {}
        lines += [f"Member Cluster {name}: {agent}" for name, agent in sorted(clusters.items())]
    return lines


def print_client_version(asked: bool) -> None:
    """``fedstate --version``: the client's version, then exit (no gateway is asked)."""
    if asked:
        print_lines(f"Client Version: {client_version()}")
        raise typer.Exit()
