"""Every ``fedstate bus`` command the docs show runs as written against a live NATS and intake.

The commands are read from the docs' ``bash`` blocks and split as a POSIX shell splits them,
so a renamed command, a changed option or a broken example fails here instead of in a reader's shell.
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from fedstate.bus.connection import connect
from fedstate.cli.main import app
from fedstate.natsserver import NatsServer, free_port, start_nats_server
from fedstate.sealing import KeyRing
from fedstate_federation.intake import serve_intake
from fedstate_federation.vault import Vault

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
BASH_BLOCK = re.compile(r"```bash\n(.*?)```", re.DOTALL)
BUS_COMMAND = re.compile(r"^(\.venv/bin/)?fedstate bus ")


def commands(page: Path) -> list[str]:
    """The ``fedstate bus`` commands of a page's bash blocks, a command quoted over several lines kept whole."""
    found: list[str] = []
    for block in BASH_BLOCK.findall(page.read_text()):
        pending = ""
        for line in block.splitlines():
            pending = f"{pending}\n{line}" if pending else line
            try:
                shlex.split(pending, comments=True)
            except ValueError:  # an open quote: the command goes on on the next line
                continue
            if BUS_COMMAND.match(pending):
                found.append(pending)
            pending = ""
    return found


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """A private NATS server (the examples use tenant ``default``) answered by the real intake."""
    server = start_nats_server(tmp_path_factory.mktemp("doc-bus"))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="doc-intake", daemon=True)
    thread.start()

    async def start() -> object:
        bus = await connect(server.url, name="doc-intake")
        await serve_intake(bus, Vault(KeyRing.generate()))
        return bus

    bus = asyncio.run_coroutine_threadsafe(start(), loop).result(30)
    yield server
    asyncio.run_coroutine_threadsafe(bus.close(), loop).result(30)  # type: ignore[attr-defined]
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()
    server.stop()


def run(command: str) -> Result:
    """Run one documented command as the shell would split it (``fedstate`` itself, in this process)."""
    program, *args = shlex.split(command, comments=True)
    assert "fedstate" == Path(program).name
    return CliRunner().invoke(app, args)


@pytest.fixture
def on_live_bus(live: NatsServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Commands find the live server through ``$FEDSTATE_NATS_URL``, from a directory without a stack."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FEDSTATE_NATS_URL", live.url)


def test_the_bus_contract_examples_succeed_in_order(on_live_bus: None) -> None:
    """Apply, read back, read history and delete by short kind: every command exits 0 and every reply is ok."""
    documented = commands(DOCS / "bus-contract.md")
    assert 4 <= len(documented), documented
    outputs: dict[str, str] = {}
    for command in documented:
        result = run(command)
        assert 0 == result.exit_code, f"{command}\n{result.output}"
        replies = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
        assert replies, f"{command} printed no JSON: {result.stdout!r}"
        assert [] == [r for r in replies if r.get("ok") is False], command
        outputs[command] = result.stdout
    stored = next(json.loads(out) for command, out in outputs.items() if " kv get fs-spec " in command)
    spec = stored["data"]
    assert ("StoredObject", "rs1", 3) == (stored["kind"], spec["metadata"]["name"], spec["spec"]["replicaset"])


@pytest.mark.parametrize("page", [p for p in PAGES if commands(p)], ids=lambda p: p.name)
def test_every_documented_bus_command_is_a_valid_invocation(on_live_bus: None, page: Path) -> None:
    """On any page, a ``fedstate bus`` line names real commands and options (a missing key is fine here)."""
    for command in commands(page):
        result = run(command)
        assert result.exit_code in (0, 1) and "Usage:" not in result.output, f"{command}\n{result.output}"


def test_bus_commands_take_every_server_of_a_cluster(live: NatsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--nats`` with several URLs, comma-separated (docs/cli.md): the command reaches whichever answers."""
    monkeypatch.delenv("FEDSTATE_NATS_URL", raising=False)
    gone = f"nats://127.0.0.1:{free_port()}"
    for servers in (f"{gone},{live.url}", f"{live.url},{gone}"):
        result = run(f"fedstate bus kv ls fs-spec --nats {servers}")
        assert 0 == result.exit_code, result.output
