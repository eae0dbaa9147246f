# The official client types every model field as Optional and its methods as taking models, while it
# accepts plain dict bodies at runtime.
# mypy: disable-error-code="union-attr, arg-type, index, operator, misc"
"""``pods/exec`` through the official client's ``kubernetes.stream.stream``: the mongo shell in a mongod
container reaches its member over loopback (the localhost exception), reads the pod's mounted Secret,
and every other request gets kube-apiserver's or the container runtime's refusal."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kube_support import wait_until
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from fedstate_sim.config import SimSettings, default_config
from fedstate_sim.kube.tokens import ADMIN_TOKEN
from fedstate_sim.mongo.shards import ShardedMemberHost
from fedstate_sim.threaded import ThreadedWorld
from fedstate_sim.world import World

VIP_OCTET = 73
KEY = "c2ltdWxhdG9yLWtleWZpbGUtZm9yLWV4ZWMtdGVzdHM="
PASSWORD = "in-the-secret"
MARKER = "// fedstate-agent bootstrap script, format 1"


@pytest.fixture(scope="module", params=["members in process", "members in 2 processes"])
def world(request: pytest.FixtureRequest) -> Iterator[ThreadedWorld]:
    """The shell runs where the member runs: in the simulator, or in a member process (files read here)."""
    settings = SimSettings(election_timeout_millis=400, vip_octet=VIP_OCTET)
    host = ShardedMemberHost(settings, 2) if request.param.endswith("processes") else None
    with World.run_in_thread(default_config(1, settings), host) as w:
        yield w


@pytest.fixture(scope="module")
def core(world: ThreadedWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[client.CoreV1Api]:
    kubeconfig: Path = world.write_kubeconfig(tmp_path_factory.mktemp("kube") / "config")
    api = config.new_client_from_config(str(kubeconfig), context="member-1")
    yield client.CoreV1Api(api)
    api.close()


@pytest.fixture(scope="module")
def member(core: client.CoreV1Api) -> Iterator[tuple[str, str]]:
    """(namespace, address) of one Ready mongod pod ``db-0`` with a keyFile, an exporter sidecar and a NodePort."""
    namespace = f"x-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": namespace}})
    secret = {"keyfile": KEY, "root-password": PASSWORD}
    core.create_namespaced_secret(
        namespace,
        {
            "metadata": {"name": "db-auth"},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in secret.items()},
        },
    )
    apps = client.AppsV1Api(core.api_client)
    apps.create_namespaced_stateful_set(namespace, statefulset())
    service = core.create_namespaced_service(
        namespace,
        {
            "metadata": {"name": "db"},
            "spec": {"type": "NodePort", "selector": {"app": "db"}, "ports": [{"name": "mongodb", "port": 27017}]},
        },
    )
    address = f"{external_ip(core)}:{service.spec.ports[0].node_port}"
    wait_until(lambda: answers(address), timeout=10)
    yield namespace, address


def statefulset() -> dict[str, Any]:
    mongod = {
        "name": "mongod",
        "image": "mongo:6.0",
        "command": ["mongod"],
        "args": ["--replSet", "rs0", "--bind_ip_all", "--keyFile", "/etc/mongod-auth/keyfile"],
        "ports": [{"name": "mongodb", "containerPort": 27017}],
        "volumeMounts": [{"name": "auth", "mountPath": "/etc/mongod-auth", "readOnly": True}],
    }
    exporter = {"name": "exporter", "image": "percona/mongodb_exporter:0.40"}
    return {
        "metadata": {"name": "db"},
        "spec": {
            "replicas": 1,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {
                    "containers": [mongod, exporter],
                    "volumes": [{"name": "auth", "secret": {"secretName": "db-auth"}}],
                },
            },
        },
    }


def external_ip(core: client.CoreV1Api) -> str:
    node = core.list_node().items[0]
    return next(a.address for a in node.status.addresses if a.type == "ExternalIP")


def answers(address: str) -> bool:
    with MongoClient(address, directConnection=True, serverSelectionTimeoutMS=300) as mongo:
        try:
            return bool(mongo.admin.command("ping")["ok"])
        except Exception:
            return False


def script(*commands: dict[str, Any]) -> str:
    return f"{MARKER}\nvar commands = {json.dumps(list(commands))};\n// the runner: not read by the simulator\n"


def shell(*commands: dict[str, Any], program: str = "mongosh") -> list[str]:
    return [program, "--quiet", "--norc", "--port", "27017", "--eval", script(*commands)]


def run(core: client.CoreV1Api, namespace: str, command: list[str], container: str = "mongod") -> dict[str, Any]:
    """stdout, stderr and the error channel's Status of one exec, through ``kubernetes.stream.stream``."""
    ws = stream(
        core.connect_get_namespaced_pod_exec,
        "db-0",
        namespace,
        command=command,
        container=container,
        stdout=True,
        stderr=True,
        stdin=False,
        tty=False,
        _preload_content=False,
    )
    ws.run_forever(timeout=10)
    return {"stdout": ws.read_stdout(), "stderr": ws.read_stderr(), "status": json.loads(ws.read_channel(3))}


def refusal(call: Any) -> str:
    """The Status text of a request refused before the WebSocket upgrade."""
    with pytest.raises(ApiException) as refused:
        call()
    return str(refused.value.reason)


def test_the_shell_runs_the_script_over_loopback_under_the_localhost_exception(
    core: client.CoreV1Api, member: tuple[str, str]
) -> None:
    """createUser from the mongod container succeeds with the password read from the mounted Secret; the
    network is still refused, and root logs in with the Secret's password."""
    namespace, address = member
    initiate = {"replSetInitiate": {"_id": "rs0", "members": [{"_id": 0, "host": address}]}}
    done = run(core, namespace, shell(initiate))
    assert {"metadata": {}, "status": "Success"} == done["status"]
    assert 'fedstate-result [{"ok":1}]\n' == done["stdout"]
    wait_until(lambda: MongoClient(address, directConnection=True).admin.command("hello")["isWritablePrimary"])
    create = {"createUser": "root", "pwd": {"$readFile": "/etc/mongod-auth/root-password"}, "roles": ["root"]}
    assert 'fedstate-result [{"ok":1}]\n' == run(core, namespace, shell(create))["stdout"]
    with MongoClient(address, directConnection=True, username="root", password=PASSWORD) as mongo:
        assert 1.0 == mongo.admin.command("replSetGetStatus")["ok"]
    again = json.loads(run(core, namespace, shell(create))["stdout"].removeprefix("fedstate-result "))
    assert [13] == [r["code"] for r in again], "a user exists: the localhost exception is closed"
    with MongoClient(address, directConnection=True) as mongo, pytest.raises(OperationFailure) as refused:
        mongo.admin.command("replSetGetConfig")
    assert 13 == refused.value.code


def test_a_missing_file_fails_that_command_as_the_shell_would(core: client.CoreV1Api, member: tuple[str, str]) -> None:
    namespace, _ = member
    done = run(core, namespace, shell({"ping": 1}, {"createUser": "x", "pwd": {"$readFile": "/etc/none"}}))
    results = json.loads(done["stdout"].removeprefix("fedstate-result "))
    assert [{"ok": 1}, {"ok": 0, "errmsg": "ENOENT: no such file or directory, open '/etc/none'"}] == results


def test_a_shell_the_image_lacks_is_not_found(core: client.CoreV1Api, member: tuple[str, str]) -> None:
    """mongo:6.0 has no legacy mongo shell: the runtime's 'executable file not found' as an InternalError."""
    namespace, _ = member
    status = run(core, namespace, shell({"ping": 1}, program="mongo"))["status"]
    assert ("Failure", "InternalError") == (status["status"], status["reason"])
    assert 'exec: "mongo": executable file not found in $PATH' in status["message"]


def test_other_programs_and_scripts_are_refused(core: client.CoreV1Api, member: tuple[str, str]) -> None:
    """The simulator runs only the bootstrap script: anything else fails to start, saying so."""
    namespace, _ = member
    malformed = f"{MARKER}\nvar commands = [nope];\n"
    for command in (
        ["sh", "-c", "echo hi"],
        ["mongosh", "--eval", "rs.status()"],
        ["mongosh", "--host", "x"],
        ["mongosh", "--eval", malformed],
    ):
        status = run(core, namespace, command)["status"]
        assert "InternalError" == status["reason"], command
        assert "fedstate simulator" in status["message"], command


def test_the_exporter_container_has_no_mongo_shell(core: client.CoreV1Api, member: tuple[str, str]) -> None:
    namespace, _ = member
    status = run(core, namespace, shell({"ping": 1}), container="exporter")["status"]
    assert 'exec: "mongosh": executable file not found in $PATH' in status["message"]


def test_requests_kube_apiserver_refuses(core: client.CoreV1Api, member: tuple[str, str]) -> None:
    """Unknown pod, unknown container, no container named in a two-container pod, no command: its 4xx words."""
    namespace, _ = member
    argv = shell({"ping": 1})
    assert 'pods \\"nope-0\\" not found' in refusal(
        lambda: stream(core.connect_get_namespaced_pod_exec, "nope-0", namespace, command=argv, stdout=True)
    )
    assert "container nope is not valid for pod db-0" in refusal(
        lambda: stream(core.connect_get_namespaced_pod_exec, "db-0", namespace, command=argv, container="nope")
    )
    assert "a container name must be specified for pod db-0, choose one of: [mongod exporter]" in refusal(
        lambda: stream(core.connect_get_namespaced_pod_exec, "db-0", namespace, command=argv, stdout=True)
    )
    assert "you must specify at least one command for the container" in refusal(
        lambda: stream(core.connect_get_namespaced_pod_exec, "db-0", namespace, container="mongod", stdout=True)
    )


def test_a_plain_http_request_needs_an_upgrade(core: client.CoreV1Api, member: tuple[str, str]) -> None:
    """Without a WebSocket (or SPDY) upgrade, exec is a 400 'Upgrade request required'."""
    namespace, _ = member
    with pytest.raises(ApiException) as refused:
        core.connect_get_namespaced_pod_exec("db-0", namespace, command=["mongosh"], container="mongod", stdout=True)
    assert 400 == refused.value.status
    assert "Upgrade request required" in str(refused.value.body)


def test_a_pod_without_a_node_has_no_host(core: client.CoreV1Api, member: tuple[str, str]) -> None:
    namespace, _ = member
    core.create_namespaced_pod(
        namespace,
        {
            "metadata": {"name": "unschedulable"},
            "spec": {
                "nodeSelector": {"no-such": "label"},
                "containers": [{"name": "mongod", "image": "mongo:6.0", "command": ["mongod"]}],
            },
        },
    )
    assert "pod unschedulable does not have a host assigned" in refusal(
        lambda: stream(
            core.connect_get_namespaced_pod_exec, "unschedulable", namespace, command=["mongosh"], stdout=True
        )
    )


def test_a_sub_protocol_the_simulator_does_not_speak_is_refused(
    core: client.CoreV1Api, member: tuple[str, str]
) -> None:
    """Only v4/v5.channel.k8s.io are served: a client offering another gets a 400 naming them, not a hang."""
    namespace, _ = member
    url = f"{core.api_client.configuration.host}/api/v1/namespaces/{namespace}/pods/db-0/exec"
    query = {"command": "mongosh", "container": "mongod", "stdout": "true"}

    async def connect() -> int:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as session:
            try:
                async with session.ws_connect(url, params=query, protocols=("base64.channel.k8s.io",)):
                    return 101
            except aiohttp.WSServerHandshakeError as refused:
                return refused.status

    assert 400 == asyncio.run(connect())
