"""Every failure ends with one readable ``error:`` message on stderr and a non-zero exit code."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from fedstate.cli.main import app
from fedstate.natsserver import free_port

INVALID = """
apiVersion: middleware.fedstate.io/v1alpha1
kind: MultiCloudMongoDB
metadata: {name: broken}
spec:
  replicaset: 0
  resource: {limits: {cpu: 2x}}
"""


@pytest.fixture
def bare(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., Any]:
    """``fedstate`` in an empty directory, with no FEDSTATE_SERVER."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FEDSTATE_SERVER", raising=False)
    return lambda *args: CliRunner().invoke(app, list(args))


def test_without_a_stack_the_cli_says_how_to_get_one(bare: Callable[..., Any], fedstate_home: Path) -> None:
    for args in (["get", "mcm"], ["clusters"], ["wait", "mcm", "x", "--for", "delete"]):
        result = bare(*args)
        assert 1 == result.exit_code
        looked = f"./.fedstate nor in the current context ({fedstate_home / 'current'})"
        expected = f"error: no fedstate stack found in {looked} — run `fedstate up` or pass --server\n"
        assert expected == result.stderr


def test_a_dead_gateway_is_connection_refused(bare: Callable[..., Any]) -> None:
    result = bare("--server", f"http://127.0.0.1:{free_port()}", "get", "mcm")
    assert 1 == result.exit_code
    assert "connection refused" in result.stderr


def test_an_invalid_spec_prints_each_field_path_once(cli: Callable[..., Any], tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text(INVALID)
    result = cli("apply", "-f", "broken.yaml")
    assert 1 == result.exit_code
    assert (
        'error: The MultiCloudMongoDB "broken" is invalid:\n'
        "* spec.replicaset: must be greater than or equal to 1, got 0\n"
        "* spec.resource.limits.cpu: '2x' is not a Kubernetes quantity\n"
    ) == result.stderr


def test_a_single_bad_field_is_one_line(cli: Callable[..., Any], tmp_path: Path) -> None:
    (tmp_path / "typo.yaml").write_text(INVALID.replace("replicaset: 0", "replicaSet: 3").replace("2x", "2"))
    result = cli("apply", "-f", "typo.yaml")
    expected = 'error: The MultiCloudMongoDB "broken" is invalid: spec.replicaSet: unknown field; did you mean spec.replicaset?\n'
    assert (1, expected) == (result.exit_code, result.stderr)


def test_a_missing_object_is_not_found(cli: Callable[..., Any]) -> None:
    result = cli("get", "mcm", "nobody")
    assert 1 == result.exit_code
    assert (
        'Error from server (NotFound): multicloudmongodbs.middleware.fedstate.io "nobody" not found\n' == result.stderr
    )


def test_unknown_kinds_and_bad_files_are_named(cli: Callable[..., Any], tmp_path: Path) -> None:
    (tmp_path / "widget.yaml").write_text("kind: Widget\nmetadata: {name: w}\n")
    assert "unknown resource type 'widgets'" in cli("get", "widgets").stderr
    assert "widget.yaml document 1: unknown kind 'Widget'" in cli("apply", "-f", "widget.yaml").stderr
    assert 'the path "missing.yaml" does not exist' in cli("apply", "-f", "missing.yaml").stderr


def test_sim_commands_need_a_running_stack(bare: Callable[..., Any]) -> None:
    result = bare("sim", "fail", "member-1")
    assert 1 == result.exit_code
    assert "no fedstate stack found" in result.stderr
