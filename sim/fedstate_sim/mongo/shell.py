"""The mongo shell inside a simulated mongod's pod, as ``pods/exec`` runs it.

The simulator does not interpret JavaScript. It runs one script shape, the fedstate
agent's bootstrap script (docs/decisions/0008-bootstrap-through-pods-exec.md):

    mongosh|mongo [--quiet] [--norc] [--port 27017] --eval <script>

where the script's first line begins with ``MARKER`` and its second ``var commands = <JSON array>;``.
Each command runs, in order, on a loopback connection to the pod's member — the one
place the localhost exception applies — with every ``{"$readFile": path}`` value
replaced by that file's content in the container; the first failure stops the run;
stdout is the line the script prints: ``fedstate-result <JSON>``, one
``{ok, code, codeName, errmsg}`` per command run (keys a reply lacks left out, as
``JSON.stringify`` leaves out undefined ones). Which shell exists follows the image's
version: ``mongosh`` from 5.0, the legacy ``mongo`` before 6.0. Another program, or a
script of another shape, does not start: ``ShellRun.start_error`` says why.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from fedstate_sim.mongo.api import ShellRequest, ShellRun
from fedstate_sim.mongo.commands import CommandContext, ConnectionState, dispatch
from fedstate_sim.mongo.member import Member
from fedstate_sim.mongo.versions import version_tuple

MARKER = "// fedstate-agent bootstrap script, format 1"
COMMANDS_PREFIX = "var commands = "
RESULT_PREFIX = "fedstate-result "
READ_FILE = "$readFile"
MONGOD_PORT = 27017
FLAGS = ("--quiet", "--norc")
# What each shell says when nothing listens on the port, and when it cannot read a file.
REFUSED = {
    "mongosh": "MongoNetworkError: connect ECONNREFUSED 127.0.0.1:{port}",
    "mongo": "Error: couldn't connect to server 127.0.0.1:{port}, connection attempt failed: "
    "SocketException: Error connecting to 127.0.0.1:{port} :: caused by :: Connection refused",
}
UNREADABLE = {
    "mongosh": "ENOENT: no such file or directory, open '{path}'",
    "mongo": "error opening file: {path}",
}
Lookup = Callable[[str, int], Member | None]


class Refused(Exception):
    """The program cannot start: the message is what the container runtime reports."""


def shells(image: str | None) -> tuple[str, ...]:
    """The mongo shells an image of that MongoDB version carries (None: not a MongoDB image)."""
    if image is None:
        return ()
    version = version_tuple(image)[:2]
    return tuple(name for name, present in (("mongosh", version >= (5, 0)), ("mongo", version < (6, 0))) if present)


async def run_shell(request: ShellRequest, lookup: Lookup) -> ShellRun:
    try:
        shell, port, commands = parse(request)
    except Refused as refused:
        return ShellRun(start_error=str(refused))
    member = lookup(*request.member) if request.member is not None and port == MONGOD_PORT else None
    if member is None or not member.running:
        return ShellRun(stderr=REFUSED[shell].format(port=port) + "\n", exit_code=1)
    results = await run_commands(member, commands, shell, request.read_file)
    return ShellRun(stdout=RESULT_PREFIX + json.dumps(results, separators=(",", ":")) + "\n")


def parse(request: ShellRequest) -> tuple[str, int, list[dict[str, Any]]]:
    """(shell, port, commands) of a request of the one shape the simulator runs; ``Refused`` otherwise."""
    argv = list(request.argv)
    program = os.path.basename(argv[0]) if argv else ""
    if program not in ("mongosh", "mongo"):
        raise Refused(f"fedstate simulator: a simulated container runs only the mongo shell (got {argv})")
    if program not in shells(request.image):
        raise Refused(
            "OCI runtime exec failed: exec failed: unable to start container process: "
            f'exec: "{argv[0]}": executable file not found in $PATH: unknown'
        )
    port, script = _options(argv[1:])
    return program, port, _commands(script)


def _options(args: list[str]) -> tuple[int, str]:
    port, script = MONGOD_PORT, None
    while args:
        option = args.pop(0)
        if option in FLAGS:
            continue
        if option in ("--port", "--eval") and args:
            value = args.pop(0)
            if option == "--eval":
                script = value
            elif value.isdigit():
                port = int(value)
            else:
                raise Refused(f"fedstate simulator: --port {value!r} is not a port number")
            continue
        raise Refused(
            f"fedstate simulator: the simulated mongo shell takes --quiet, --norc, --port and --eval only "
            f"(got {option!r})"
        )
    if script is None:
        raise Refused("fedstate simulator: the simulated mongo shell runs only a script given with --eval")
    return port, script


def _commands(script: str) -> list[dict[str, Any]]:
    lines = script.split("\n", 2)
    if len(lines) < 2 or not lines[0].startswith(MARKER) or not lines[1].startswith(COMMANDS_PREFIX):
        raise Refused(
            "fedstate simulator: the simulated mongo shell runs only the fedstate agent's bootstrap script "
            f"(first line {MARKER!r}, second 'var commands = [...];'; see "
            "docs/decisions/0008-bootstrap-through-pods-exec.md)"
        )
    try:
        commands = json.loads(lines[1].removeprefix(COMMANDS_PREFIX).rstrip().removesuffix(";"))
    except ValueError as error:
        raise Refused(f"fedstate simulator: the script's commands are not JSON: {error}") from None
    if not isinstance(commands, list) or not all(isinstance(c, dict) and c for c in commands):
        raise Refused("fedstate simulator: the script's commands must be a JSON array of command documents")
    return commands


async def run_commands(
    member: Member, commands: list[dict[str, Any]], shell: str, read_file: Callable[[str], str | None]
) -> list[dict[str, Any]]:
    """Run each command on one loopback connection until one fails; the script's result objects."""
    results: list[dict[str, Any]] = []
    conn = local_connection(member)
    for command in commands:
        try:
            resolved = _resolve(command, read_file)
        except FileNotFoundError as missing:
            results.append({"ok": 0, "errmsg": UNREADABLE[shell].format(path=missing.filename)})
            break
        reply = await dispatch(CommandContext(member, conn, "admin"), resolved)
        results.append(_result(reply))
        if not reply.get("ok"):
            break
    return results


def local_connection(member: Member) -> ConnectionState:
    """A new client connection over the pod's loopback interface."""
    member.connection_ids += 1
    return ConnectionState(member.connection_ids, f"127.0.0.1:{MONGOD_PORT}", local=True)


async def local_command(member: Member, command: dict[str, Any]) -> dict[str, Any]:
    """One command from a shell inside the pod (tests create a first user this way)."""
    return await dispatch(CommandContext(member, local_connection(member), "admin"), command)


def _resolve(value: Any, read_file: Callable[[str], str | None]) -> Any:
    if isinstance(value, list):
        return [_resolve(v, read_file) for v in value]
    if not isinstance(value, dict):
        return value
    path = value.get(READ_FILE)
    if isinstance(path, str):
        content = read_file(path)
        if content is None:
            raise FileNotFoundError(2, "no such file", path)
        return content
    return {k: _resolve(v, read_file) for k, v in value.items()}


def files_read(request: ShellRequest) -> dict[str, str | None]:
    """Every file the request's script reads, read now: what a shell in another process is given."""
    try:
        _, _, commands = parse(request)
    except Refused:
        return {}
    read: dict[str, str | None] = {}

    def record(path: str) -> str:
        read[path] = request.read_file(path)
        return ""  # the walk goes on past a missing file, so every path is seen

    _resolve(commands, record)
    return read


def _result(reply: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"ok": 1 if reply.get("ok") else 0}
    for key in ("code", "codeName", "errmsg"):
        if key in reply:
            result[key] = reply[key]
    return result


__all__ = ["MARKER", "files_read", "local_command", "run_shell", "shells"]
