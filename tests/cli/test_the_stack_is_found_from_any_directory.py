"""The CLI finds its stack as kubectl finds its kubeconfig: ``--stack DIR`` or ``$FEDSTATE_STACK``, else
``./.fedstate``, else the current context that ``fedstate up`` recorded; so commands work from any directory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from served_gateway import ServedGateway
from typer.testing import CliRunner

from fedstate.cli import context
from fedstate.cli.main import app
from fedstate.cli.records import StackState, save_state
from fedstate.cli.state import StackPaths
from fedstate.natsserver import free_port

Invoke = Callable[..., Any]


@pytest.fixture
def elsewhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Invoke]:
    """``fedstate`` run from an empty directory, with a private config home and no FEDSTATE_SERVER."""
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    monkeypatch.setenv("FEDSTATE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FEDSTATE_SERVER", raising=False)
    monkeypatch.delenv("FEDSTATE_STACK", raising=False)
    yield lambda *args: CliRunner().invoke(app, list(args))
    context.set_global_stack(None)  # what the last invocation's --stack left, for direct calls in other tests


def stack_in(directory: Path, api_url: str) -> StackPaths:
    paths = StackPaths(directory / ".fedstate")
    save_state(paths, StackState(api_url=api_url, nats_url="nats://unused"))
    return paths


def dead_gateway() -> str:
    return f"http://127.0.0.1:{free_port()}"


def test_the_current_context_is_found_from_another_directory(
    elsewhere: Invoke, served: ServedGateway, tmp_path: Path
) -> None:
    context.remember(stack_in(tmp_path / "project", served.url))
    assert f"{tmp_path / 'project' / '.fedstate'}\n" == (tmp_path / "home" / "current").read_text()
    result = elsewhere("get", "mcm", "-A", "-o", "json")
    assert 0 == result.exit_code, result.output


def test_stack_flag_and_environment_win_over_the_current_context(
    elsewhere: Invoke, served: ServedGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    context.remember(stack_in(tmp_path / "old", dead_gateway()))
    stack_in(tmp_path / "new", served.url)
    assert "connection refused" in elsewhere("get", "mcm").stderr
    assert 0 == elsewhere("--stack", str(tmp_path / "new"), "get", "mcm", "-o", "json").exit_code
    assert 0 == elsewhere("--stack", str(tmp_path / "new" / ".fedstate"), "get", "mcm", "-o", "json").exit_code
    monkeypatch.setenv("FEDSTATE_STACK", str(tmp_path / "new"))
    assert 0 == elsewhere("get", "mcm", "-o", "json").exit_code


def test_the_current_directory_wins_over_the_current_context(
    elsewhere: Invoke, served: ServedGateway, tmp_path: Path
) -> None:
    context.remember(stack_in(tmp_path / "old", dead_gateway()))
    stack_in(tmp_path / "elsewhere", served.url)
    assert 0 == elsewhere("get", "mcm", "-o", "json").exit_code


def test_a_named_stack_that_does_not_run_is_named_in_the_error(elsewhere: Invoke, tmp_path: Path) -> None:
    result = elsewhere("--stack", str(tmp_path / "nothing"), "get", "mcm")
    assert 1 == result.exit_code
    assert f"no fedstate stack found in {tmp_path / 'nothing' / '.fedstate'}" in result.stderr


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"FEDSTATE_HOME": "/opt/fs", "XDG_CONFIG_HOME": "/xdg"}, "/opt/fs/current"),
        ({"XDG_CONFIG_HOME": "/xdg"}, "/xdg/fedstate/current"),
        ({"HOME": "/home/u"}, "/home/u/.config/fedstate/current"),
    ],
)
def test_the_current_context_file_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], expected: str
) -> None:
    for variable in ("FEDSTATE_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(variable, raising=False)
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    assert Path(expected) == context.current_file()


def test_forgetting_another_stack_keeps_the_current_context(elsewhere: Invoke, tmp_path: Path) -> None:
    current = stack_in(tmp_path / "a", dead_gateway())
    context.remember(current)
    context.forget(StackPaths(tmp_path / "b" / ".fedstate"))
    assert current.root == context.find_stack().root  # type: ignore[union-attr]
    context.forget(current)
    assert not context.current_file().exists()
