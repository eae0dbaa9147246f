"""``up`` refuses a second stack and a taken port; ``down`` stops what was recorded, SIGKILL after the timeout."""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fedstate.cli import context
from fedstate.cli.main import app
from fedstate.cli.processes import Launch, spawn
from fedstate.cli.records import ProcessRecord, StackState, load_state, save_state
from fedstate.cli.state import StackPaths, Tier
from fedstate.natsserver import free_port

STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)"


@pytest.fixture
def here(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> StackPaths:
    monkeypatch.chdir(tmp_path)
    return StackPaths.here()


@pytest.fixture
def recorded(here: StackPaths) -> Iterator[list[ProcessRecord]]:
    """A polite sleeper and one that ignores SIGTERM, recorded as a running stack."""
    started = [
        spawn(Launch("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"]), here.log("sleeper")),
        spawn(Launch("stubborn", [sys.executable, "-c", STUBBORN]), here.log("stubborn")),
    ]
    records = [record for _, record in started]
    save_state(here, StackState(api_url="http://127.0.0.1:1", nats_url="nats://x", processes=records))
    deadline = time.monotonic() + 10
    while "up" not in here.log("stubborn").read_text() and time.monotonic() < deadline:
        time.sleep(0.02)
    yield records
    for process, _ in started:
        process.kill()
        process.wait()


def test_down_stops_every_recorded_process(here: StackPaths, recorded: list[ProcessRecord]) -> None:
    result = CliRunner().invoke(app, ["down", "--timeout", "1"])
    assert 0 == result.exit_code, result.output
    assert "stopped 2 processes: sleeper, stubborn\n(killed after the timeout: stubborn)\n" == result.stdout
    assert not any(r.alive() for r in recorded)
    assert load_state(here) is None


# On SIGTERM, write down which other recorded processes are still alive, then take a moment to exit,
# so a stop that signalled two tiers at once would be seen.
WITNESS = """
import json, signal, sys, time
from pathlib import Path
from fedstate.cli.state import StackPaths
from fedstate.cli.records import load_state
paths, name = StackPaths(Path(sys.argv[1])), sys.argv[2]
def stopping(*_):
    state = load_state(paths)
    alive = sorted(p.name for p in state.processes if p.name != name and p.alive())
    with (paths.root / "witness.jsonl").open("a") as out:
        out.write(json.dumps({"name": name, "alive": alive}) + "\\n")
    time.sleep(0.3)
    sys.exit(0)
signal.signal(signal.SIGTERM, stopping)
print("up", flush=True)
time.sleep(60)
"""
STACK_ORDER = [
    ("nats-server", Tier.BUS),
    ("simulator", Tier.SIMULATOR),
    ("collector-member-1", Tier.COLLECTOR),
    ("agent-member-1", Tier.AGENT),
    ("scheduler", Tier.SCHEDULER),
    ("federation", Tier.FEDERATION),
    ("gateway", Tier.GATEWAY),
]


@pytest.fixture
def witnesses(here: StackPaths) -> Iterator[list[ProcessRecord]]:
    """One witness per process of a stack, recorded in the order ``up`` starts them."""
    started = [
        spawn(Launch(name, [sys.executable, "-c", WITNESS, str(here.root), name], tier=tier), here.log(name))
        for name, tier in STACK_ORDER
    ]
    records = [record for _, record in started]
    save_state(here, StackState(api_url="http://127.0.0.1:1", nats_url="nats://x", processes=records))
    deadline = time.monotonic() + 30
    while not all("up" in here.log(name).read_text() for name, _ in STACK_ORDER) and time.monotonic() < deadline:
        time.sleep(0.05)
    yield records
    for process, _ in started:
        process.kill()
        process.wait()


def test_down_stops_each_process_after_everything_that_depends_on_it(
    here: StackPaths, witnesses: list[ProcessRecord]
) -> None:
    """Gateway, federation, scheduler, agents, collectors, simulator, NATS: each sees only what it depends on alive."""
    result = CliRunner().invoke(app, ["down"])
    assert 0 == result.exit_code, result.output
    seen = [json.loads(line) for line in (here.root / "witness.jsonl").read_text().splitlines()]
    names = [name for name, _ in STACK_ORDER]
    expected = [{"name": name, "alive": sorted(names[: names.index(name)])} for name in reversed(names)]
    assert expected == seen
    assert "killed" not in result.stdout


def test_down_from_another_directory_stops_the_current_context_and_clears_it(
    here: StackPaths, recorded: list[ProcessRecord], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FEDSTATE_HOME", str(tmp_path / "home"))
    context.remember(here)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    result = CliRunner().invoke(app, ["down", "--timeout", "1"])
    assert 0 == result.exit_code, result.output
    assert not any(r.alive() for r in recorded)
    assert not context.current_file().exists()


def test_up_refuses_while_a_stack_runs(here: StackPaths, recorded: list[ProcessRecord]) -> None:
    result = CliRunner().invoke(app, ["up", "--detach"])
    assert 1 == result.exit_code
    assert "a fedstate stack from ./.fedstate is already running (gateway http://127.0.0.1:1)" in result.stderr
    assert "run `fedstate down` first" in result.stderr


def test_up_refuses_a_taken_api_port(here: StackPaths) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["up", "--detach", "--api-port", str(port)])
    assert 1 == result.exit_code
    assert f"error: port {port} on 127.0.0.1 is already in use — choose another with --api-port\n" == result.stderr
    assert not here.state_file.exists()


def test_down_without_a_stack_says_so(here: StackPaths, fedstate_home: Path) -> None:
    result = CliRunner().invoke(app, ["down"])
    looked = f"./.fedstate nor in the current context ({fedstate_home / 'current'})"
    assert (1, f"error: no fedstate stack found in {looked} — nothing to stop\n") == (result.exit_code, result.stderr)


@pytest.mark.parametrize("combined", [["--nats-cluster", "3"], ["--clusters-per-process", "2"]])
def test_up_refuses_leaf_nodes_with_several_servers_or_clusters_per_process(
    here: StackPaths, combined: list[str]
) -> None:
    """A process serving several clusters would need a bus connection per cluster's leaf node; a NATS cluster as a
    hub is not set up here. Refused before anything starts."""
    result = CliRunner().invoke(app, ["up", "--detach", "--leaf-nodes", "--api-port", str(free_port()), *combined])
    assert 1 == result.exit_code
    assert "error: --leaf-nodes runs with one nats-server and one cluster per process only\n" == result.stderr
    assert not here.state_file.exists()
