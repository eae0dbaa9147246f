"""A name or namespace given to the CLI that is not a DNS-1123 label is refused with the field it stands for,
before anything is asked of a server; a label goes on to the server (here: none is listening)."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from fedstate.cli.main import app
from tests.dns_labels import is_label

NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing answers
NAMES = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?", fullmatch=True) | st.text(
    alphabet="ab09-._A *>ü", min_size=1, max_size=70
).filter(lambda name: not name.startswith("-"))  # a leading '-' reads as an option, as in kubectl


@settings(max_examples=60, deadline=None)
@given(name=NAMES, command=st.sampled_from(["get", "describe", "delete"]))
@example(name="*", command="delete")
@example(name="a" * 64, command="get")
def test_a_name_is_checked_before_the_server_is_asked(name: str, command: str) -> None:
    result = CliRunner().invoke(app, [command, "mcm", name, "--server", NOWHERE])
    refused = "(metadata.name) is not a DNS-1123 label" in result.output
    assert refused != is_label(name), result.output
    assert result.exit_code != 0  # a refusal (2), or no server to answer (1)


@given(namespace=NAMES)
@settings(max_examples=30, deadline=None)
def test_a_namespace_is_checked_before_the_server_is_asked(namespace: str) -> None:
    result = CliRunner().invoke(app, ["get", "mcm", "-n", namespace, "--server", NOWHERE])
    assert ("(metadata.namespace) is not a DNS-1123 label" in result.output) != is_label(namespace), result.output
