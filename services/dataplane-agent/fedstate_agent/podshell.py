"""The mongo shell inside a member's pod, through the Kubernetes ``pods/exec`` subresource.

mongod started with a keyFile lets only a loopback client use the localhost exception (initiate,
create the first user), so those steps run here: ``mongosh`` (``mongo`` before MongoDB 5.0) in the
member's ``mongod`` container, evaluating one fixed runner over a list of command documents
(decision 0008). ``{"$readFile": path}`` in a command is replaced inside the pod by that file's
content, so a password travels in no request. The runner prints one line,
``fedstate-result [{ok, code, codeName, errmsg}, ...]``, one object per command run, stopping at
the first failure.

The exec goes over a WebSocket (``v4.channel.k8s.io``) through the official client's asyncio
variant, ``kubernetes.aio.stream.WsApiClient``; its channels are read here because the preloaded
form drops the exit status. At most ``CONCURRENCY`` execs run at once, each within
``TIMEOUT_SECONDS``. Transport failures raise ``ExecFailed``; a command's own failure is left to
the caller, in its result.
"""

from __future__ import annotations

import asyncio
import json
import logging
import posixpath
from dataclasses import dataclass
from typing import Any

import aiohttp
from kubernetes.aio import client
from kubernetes.aio.client import CoreV1Api
from kubernetes.aio.client.exceptions import ApiException
from kubernetes.aio.stream import WsApiClient

from .manifests import KEYFILE_PATH

log = logging.getLogger(__name__)

CONTAINER = "mongod"
PORT = 27017
CONCURRENCY = 4
TIMEOUT_SECONDS = 30.0
MARKER = "// fedstate-agent bootstrap script, format 1 (docs/decisions/0008-bootstrap-through-pods-exec.md)"
RESULT_PREFIX = "fedstate-result "
# The <name>-auth Secret (manifests.auth_secret) is mounted whole next to the keyFile.
AUTH_DIR = posixpath.dirname(KEYFILE_PATH)
STDOUT, STDERR, ERROR = 1, 2, 3

# ES5 (plus Array.isArray) so that both mongosh (Node) and the legacy mongo shell (SpiderMonkey) run it.
# mongosh throws on a failed command where the legacy shell returns {ok: 0}; both end up as a result.
RUNNER = """
function readFile(path) {
  return typeof require === "function" ? require("fs").readFileSync(path, "utf8") : cat(path);
}
function resolve(value) {
  if (Array.isArray(value)) { return value.map(resolve); }
  if (value === null || typeof value !== "object") { return value; }
  if (typeof value.$readFile === "string") { return readFile(value.$readFile); }
  var copy = {};
  Object.keys(value).forEach(function (key) { copy[key] = resolve(value[key]); });
  return copy;
}
var admin = db.getSiblingDB("admin");
var results = [];
for (var i = 0; i < commands.length; i++) {
  var reply;
  try {
    reply = admin.runCommand(resolve(commands[i]));
  } catch (error) {
    reply = {ok: 0, code: error.code, codeName: error.codeName, errmsg: String(error.message || error)};
  }
  results.push({ok: reply.ok ? 1 : 0, code: reply.code, codeName: reply.codeName, errmsg: reply.errmsg});
  if (!reply.ok) { break; }
}
print("fedstate-result " + JSON.stringify(results));
"""


class ExecFailed(Exception):
    """The shell did not run to its result line: no exec, a non-zero exit, no result."""


@dataclass(frozen=True)
class PodRef:
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


def read_file(path: str) -> dict[str, str]:
    """A value the runner replaces, inside the pod, by the content of ``path``."""
    return {"$readFile": path}


def auth_file(key: str) -> dict[str, str]:
    """A key of the ``<name>-auth`` Secret, as the mongod container sees it."""
    return read_file(posixpath.join(AUTH_DIR, key))


def script(commands: list[dict[str, Any]]) -> str:
    # ensure_ascii: the JSON is a valid JavaScript literal in every engine (no raw U+2028/U+2029).
    return f"{MARKER}\nvar commands = {json.dumps(commands, ensure_ascii=True)};\n{RUNNER.lstrip()}"


def shell_for(version: str) -> str:
    """``mongosh`` ships with MongoDB 5.0 on; the legacy ``mongo`` shell before (it left in 6.0)."""
    major = version.split(".", 1)[0]
    return "mongo" if major.isdigit() and int(major) < 5 else "mongosh"


def argv(version: str, commands: list[dict[str, Any]]) -> list[str]:
    return [shell_for(version), "--quiet", "--norc", "--port", str(PORT), "--eval", script(commands)]


def parse_results(stdout: str) -> list[dict[str, Any]]:
    """The runner's result objects, from its ``fedstate-result`` line (banners and warnings ignored)."""
    line = next((x for x in reversed(stdout.splitlines()) if x.startswith(RESULT_PREFIX)), None)
    if line is None:
        raise ExecFailed("the mongo shell printed no result line")
    results = json.loads(line.removeprefix(RESULT_PREFIX))
    if not isinstance(results, list):
        raise ExecFailed("the mongo shell's result line is not a list")
    return [r for r in results if isinstance(r, dict)]


class PodShell:
    """Runs command documents through the mongo shell in a pod's mongod container."""

    def __init__(self, api: client.ApiClient) -> None:
        self._ws = WsApiClient(configuration=api.configuration)
        self._core = CoreV1Api(self._ws)
        self._slots = asyncio.Semaphore(CONCURRENCY)

    async def run(self, pod: PodRef, version: str, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One result per command run, in order, stopping after the first failure; ``ExecFailed`` when
        the shell did not get that far."""
        async with self._slots:
            try:
                async with asyncio.timeout(TIMEOUT_SECONDS):
                    stdout, stderr, status = await self._exec(pod, argv(version, commands))
            except (aiohttp.ClientError, ApiException, OSError, TimeoutError, ValueError) as error:
                raise ExecFailed(f"exec into {pod} failed: {_describe(error)}") from None
        if status.get("status") != "Success":
            last = stderr.strip().splitlines()[-1:] or [""]
            raise ExecFailed(f"exec into {pod}: {status.get('message', 'no exit status')} {last[0]}".strip())
        return parse_results(stdout)

    async def _exec(self, pod: PodRef, command: list[str]) -> tuple[str, str, dict[str, Any]]:
        channels: dict[int, str] = {STDOUT: "", STDERR: "", ERROR: ""}
        # The WebSocket client's variant returns aiohttp's ws_connect context manager (typed as a response).
        connect: Any = await self._core.connect_get_namespaced_pod_exec_without_preload_content(
            pod.name,
            pod.namespace,
            command=command,
            container=CONTAINER,
            stdout=True,
            stderr=True,
            stdin=False,
            tty=False,
        )
        async with connect as socket:
            async for message in socket:
                if message.type != aiohttp.WSMsgType.BINARY or not message.data:
                    continue
                channel, data = message.data[0], bytes(message.data[1:]).decode("utf-8", errors="replace")
                if channel in channels:
                    channels[channel] += data
        status = json.loads(channels[ERROR]) if channels[ERROR] else {"message": "the exec ended without a status"}
        return channels[STDOUT], channels[STDERR], status

    async def close(self) -> None:
        await self._ws.close()


def _describe(error: Exception) -> str:
    if isinstance(error, aiohttp.WSServerHandshakeError):
        return f"the API server answered {error.status} {error.message}"
    return f"{type(error).__name__}: {error}"
