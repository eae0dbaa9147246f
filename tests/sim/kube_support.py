"""Shared pieces of the simulated-Kubernetes tests: a recording MemberHost, polling helpers, manifests."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from fedstate_sim.config import SimSettings, default_config
from fedstate_sim.mongo.api import MemberLaunch, ShellRequest, ShellRun
from fedstate_sim.world import NullMemberHost, World

T = TypeVar("T")


class RecordingHost:
    """A MemberHost that only records what the controllers asked for."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.running: dict[tuple[str, int], MemberLaunch] = {}

    async def start_member(self, launch: MemberLaunch) -> None:
        self.calls.append(("start", launch))
        self.running[(launch.host, launch.port)] = launch

    async def stop_member(self, host: str, port: int, clean: bool = False) -> None:
        self.calls.append(("stop", host, port))
        if clean:
            self.calls.append(("shut down", host, port))
        self.running.pop((host, port), None)

    async def start(self) -> None:
        """Nothing to prepare."""

    def forget_data(self, data_key: str) -> None:
        self.calls.append(("forget", data_key))

    def set_cluster_down(self, cluster: str, down: bool) -> None:
        self.calls.append(("down", cluster, down))

    def partition(self, side_a: set[str], side_b: set[str]) -> None:
        self.calls.append(("partition", frozenset(side_a), frozenset(side_b)))

    def heal(self) -> None:
        self.calls.append(("heal",))

    async def run_shell(self, request: ShellRequest) -> ShellRun:
        self.calls.append(("shell", request.argv))
        return ShellRun(start_error="recording host: nothing runs")

    async def access_refusals(self) -> list[dict[str, Any]]:
        return []

    async def close(self) -> None:
        self.calls.append(("close",))


@contextmanager
def simulated_api(settings: SimSettings | None = None) -> Iterator[client.ApiClient]:
    """The official client, talking to one simulated cluster (no MongoDB) for the life of the block."""
    config_ = default_config(1, settings or SimSettings())
    with World.run_in_thread(config_, host=NullMemberHost()) as world, tempfile.TemporaryDirectory() as tmp:
        kubeconfig = world.write_kubeconfig(Path(tmp) / "config")
        api = config.new_client_from_config(str(kubeconfig), context="member-1")
        try:
            yield api
        finally:
            api.close()


def new_namespace(core: client.CoreV1Api) -> str:
    """A fresh namespace, once its ``kube-root-ca.crt`` is there (so later lists and watches see only the test's own)."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}})
    wait_until(lambda: core.list_namespaced_config_map(name, field_selector="metadata.name=kube-root-ca.crt").items)
    return name


def refusal(exc: ApiException) -> dict[str, Any]:
    """The ``Status`` an API error carried."""
    status: dict[str, Any] = json.loads(exc.body)
    return status


def refused_fields(exc: ApiException) -> list[str]:
    return [cause.get("field", "") for cause in (refusal(exc).get("details") or {}).get("causes") or []]


def wait_until(check: Callable[[], T], timeout: float = 5.0) -> T:
    """Poll a blocking ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            assert result, "condition not reached in time"
            return result
        time.sleep(0.02)


async def eventually(check: Callable[[], Awaitable[T]], timeout: float = 5.0) -> T:
    """Poll an async ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            assert result, "condition not reached in time"
            return result
        await asyncio.sleep(0.02)


def mongod_statefulset(
    name: str,
    replicas: int = 1,
    cpu: str = "1",
    storage_class: str | None = None,
    retention: str = "Retain",
    repl_set: str = "rs0",
) -> dict[str, Any]:
    claim_spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    if storage_class is not None:
        claim_spec["storageClassName"] = storage_class
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": retention, "whenScaled": "Retain"},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "mongod",
                            "image": "mongo:6.0",
                            "command": ["mongod", "--replSet", repl_set, "--bind_ip_all"],
                            "ports": [{"name": "mongodb", "containerPort": 27017}],
                            "resources": {"requests": {"cpu": cpu, "memory": "1Gi"}},
                        }
                    ]
                },
            },
            "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": claim_spec}],
        },
    }


def node_port_service(name: str, pod: str, node_port: int | None = None) -> dict[str, Any]:
    port: dict[str, Any] = {"name": "mongodb", "port": 27017, "targetPort": 27017}
    if node_port is not None:
        port["nodePort"] = node_port
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"type": "NodePort", "selector": {"statefulset.kubernetes.io/pod-name": pod}, "ports": [port]},
    }


PRESERVE_EVERYTHING: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def crd(
    group: str = "middleware.fedstate.io",
    kind: str = "MongoDB",
    plural: str = "mongodbs",
    schema: dict[str, Any] | None = PRESERVE_EVERYTHING,
) -> dict[str, Any]:
    """A namespaced CRD serving v1alpha1 with a status subresource; ``schema=None``: without a schema."""
    version: dict[str, Any] = {"name": "v1alpha1", "served": True, "storage": True, "subresources": {"status": {}}}
    if schema is not None:
        version["schema"] = {"openAPIV3Schema": schema}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind, "listKind": f"{kind}List"},
            "versions": [version],
        },
    }


def container(name: str = "mongod", **resources: dict[str, str]) -> dict[str, Any]:
    """A container of a pod, asking ``resources`` (``requests=...``, ``limits=...``)."""
    return {"name": name, "image": "mongo:6.0", "resources": resources}


def pod(name: str, *containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """A pod of ``containers`` (one bare ``mongod`` without), as admission sees it."""
    return {"metadata": {"name": name}, "spec": {"containers": list(containers) or [container()], **spec}}


def claim(name: str, storage: str, storage_class: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": storage}}}
    if storage_class:
        spec["storageClassName"] = storage_class
    return {"metadata": {"name": name}, "spec": spec}


def failed_creates(core: client.CoreV1Api, ns: str) -> list[str]:
    """The messages of the StatefulSet controllers' Warning ``FailedCreate`` events in ``ns``."""
    events = core.list_namespaced_event(ns, field_selector="involvedObject.kind=StatefulSet").items
    return [e.message for e in events if (e.type, e.reason) == ("Warning", "FailedCreate")]
