"""``pods/exec`` over WebSocket, as kube-apiserver and the kubelet serve it to the official clients.

Checks, in kube-apiserver's order and words: the pod exists (404), the container is named
or the pod has one (400), the pod has a node (400) and has not completed (400), a command
and at least one stream are given (400), the request is a WebSocket upgrade (400 "Upgrade
request required"), the container runs (404 "container not found"). Then the channel
protocol ``v4.channel.k8s.io`` (``v5.channel.k8s.io`` when offered first, which differs
only by a close signal from the client): binary frames whose first byte is the channel —
1 stdout, 2 stderr, 3 a ``Status`` with the exit code — opened by an empty frame on the
lowest requested output channel, closed after the ``Status``.

The program runs on the member host (the MongoDB fabric), which plays the mongo shell
in a mongod container and runs nothing else (``fedstate_sim.mongo.shell``). SPDY, stdin,
TTYs and terminal resizing are not served.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from fedstate_sim.kube import errors, requests
from fedstate_sim.kube.controllers.member_plan import mongod_container
from fedstate_sim.kube.meta import Obj, meta, name_of, spec_of, status_of
from fedstate_sim.kube.paths import Target
from fedstate_sim.kube.podfiles import file_reader
from fedstate_sim.kube.resources import PODS
from fedstate_sim.kube.store import ObjectStore
from fedstate_sim.mongo.api import MemberHost, ShellRequest, ShellRun

log = logging.getLogger(__name__)
PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDOUT, STDERR, ERROR = 1, 2, 3
CLOSE_TIMEOUT = 5.0


@dataclass(frozen=True)
class ExecOptions:
    command: tuple[str, ...]
    container: str
    stdout: bool
    stderr: bool
    stdin: bool
    tty: bool


class PodExec:
    """The ``exec`` subresource of pods in one simulated cluster."""

    def __init__(self, store: ObjectStore, host: MemberHost, member_of: Callable[[Obj], tuple[str, int] | None]):
        self.store = store
        self.host = host
        self.member_of = member_of

    async def handle(self, request: web.Request, target: Target) -> web.StreamResponse:
        if request.method not in ("GET", "POST"):
            raise errors.method_not_allowed(request.method, "pods/exec")
        pod = self.store.require(PODS, target.namespace or "", target.name or "")
        options = exec_options(request)
        container = _container(pod, options.container)
        _check_pod(pod)
        socket = web.WebSocketResponse(protocols=PROTOCOLS, timeout=CLOSE_TIMEOUT)
        upgrade = socket.can_prepare(request)
        if not upgrade.ok:
            raise errors.bad_request("Upgrade request required")
        _check_options(options)
        if not upgrade.protocol:
            raise errors.bad_request(f"the fedstate simulator speaks only the {', '.join(PROTOCOLS)} sub-protocols")
        _check_running(pod, container)
        try:
            await socket.prepare(request)
            await self._converse(socket, pod, container, options)
        except ConnectionError:
            pass  # the client went away (a kubelet whose client gave up is not at fault); nothing to tell it
        except Exception as error:  # a simulator bug: the client gets an InternalError, the simulator goes on
            log.exception("fedstate simulator: exec in %s/%s failed", meta(pod).get("namespace"), name_of(pod))
            with contextlib.suppress(Exception):
                await _send(socket, ERROR, json.dumps(exit_status(ShellRun(start_error=repr(error)), ())))
                await socket.close()
        return socket

    async def _converse(self, socket: web.WebSocketResponse, pod: Obj, container: Obj, options: ExecOptions) -> None:
        # The kubelet's first frame, an empty one on the lowest output channel: the streams are open.
        await _send(socket, STDOUT if options.stdout else STDERR if options.stderr else ERROR, "")
        run = await self.host.run_shell(self._shell_request(pod, container, options))
        if options.stdout and run.stdout:
            await _send(socket, STDOUT, run.stdout)
        if options.stderr and run.stderr:
            await _send(socket, STDERR, run.stderr)
        await _send(socket, ERROR, json.dumps(exit_status(run, options.command)))
        await socket.close()

    def _shell_request(self, pod: Obj, container: Obj, options: ExecOptions) -> ShellRequest:
        """Only the mongod container has a mongo shell (and reaches the member over the pod's loopback)."""
        mongod = mongod_container(pod)
        is_mongod = mongod is not None and mongod.get("name") == container.get("name")
        return ShellRequest(
            argv=options.command,
            image=str(container.get("image", "")) if is_mongod else None,
            member=self.member_of(pod) if is_mongod else None,
            read_file=file_reader(self.store, pod, container),
        )


def exec_options(request: web.Request) -> ExecOptions:
    query = request.query
    return ExecOptions(
        command=tuple(query.getall("command", [])),
        container=query.get("container", ""),
        stdout=requests.flag(query, "stdout"),
        stderr=requests.flag(query, "stderr"),
        stdin=requests.flag(query, "stdin"),
        tty=requests.flag(query, "tty"),
    )


def _check_options(options: ExecOptions) -> None:
    """The kubelet's checks of the stream options, before it upgrades the connection."""
    if not options.command:
        raise errors.bad_request("you must specify at least one command for the container")
    if not (options.stdout or options.stderr or options.stdin):
        raise errors.bad_request("you must specify at least one of stdin, stdout, stderr")
    if options.stdin or options.tty:
        raise errors.bad_request("the fedstate simulator serves exec without stdin and without a TTY")


def _container(pod: Obj, name: str) -> Obj:
    containers = spec_of(pod).get("containers") or []
    if not name:
        if len(containers) == 1:
            return dict(containers[0])
        names = " ".join(str(c.get("name")) for c in containers)
        raise errors.bad_request(f"a container name must be specified for pod {name_of(pod)}, choose one of: [{names}]")
    found = next((c for c in containers if c.get("name") == name), None)
    if found is None:
        raise errors.bad_request(f"container {name} is not valid for pod {name_of(pod)}")
    return dict(found)


def _check_pod(pod: Obj) -> None:
    if not spec_of(pod).get("nodeName"):
        raise errors.bad_request(f"pod {name_of(pod)} does not have a host assigned")
    phase = status_of(pod).get("phase")
    if phase in ("Succeeded", "Failed"):
        raise errors.bad_request(f"cannot exec into a container in a completed pod; current phase is {phase}")


def _check_running(pod: Obj, container: Obj) -> None:
    """The kubelet finds a running container of that name, or answers 404."""
    statuses = status_of(pod).get("containerStatuses") or []
    status = next((s for s in statuses if s.get("name") == container.get("name")), None)
    if meta(pod).get("deletionTimestamp") or status is None or "running" not in (status.get("state") or {}):
        raise errors.ApiError(404, "NotFound", f'container not found ("{container.get("name")}")')


def exit_status(run: ShellRun, command: tuple[str, ...]) -> Obj:
    """The ``Status`` on the error channel: Success, NonZeroExitCode with the code, or InternalError."""
    if run.start_error is not None:
        message = f"error executing command in container: {run.start_error}"
        return {
            "metadata": {},
            "status": "Failure",
            "message": f"Internal error occurred: {message}",
            "reason": "InternalError",
            "details": {"causes": [{"message": message}]},
            "code": 500,
        }
    if run.exit_code != 0:
        return {
            "metadata": {},
            "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command "
            f"[{' '.join(command)}], exit code {run.exit_code}",
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": str(run.exit_code)}]},
        }
    return {"metadata": {}, "status": "Success"}


async def _send(socket: web.WebSocketResponse, channel: int, text: str) -> None:
    await socket.send_bytes(bytes([channel]) + text.encode())
