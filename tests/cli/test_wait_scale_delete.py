"""``wait --for`` polls until a state, a condition or deletion; ``scale`` and ``delete`` go through the gateway."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import yaml
from served_gateway import ServedGateway

from fedstate.bus.names import InstanceKey, Kind
from fedstate.bus.objects import StatusRecord
from fedstate.models.base import Condition
from fedstate.models.multicloud import InstanceState, MultiCloudMongoDBStatus


def manifest(name: str, kind: str = "MultiCloudMongoDB") -> str:
    if kind == "ConfigMap":
        return yaml.safe_dump({"apiVersion": "v1", "kind": kind, "metadata": {"name": name}, "data": {"k": "v"}})
    body = {
        "apiVersion": "middleware.fedstate.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": {"replicaset": 3},
    }
    return yaml.safe_dump(body)


def set_status(served: ServedGateway, name: str, state: InstanceState, ready: str = "False") -> None:
    status = MultiCloudMongoDBStatus(
        state=state, observed_generation=1, conditions=[Condition(type="ServerReady", status=ready)]
    )
    key = InstanceKey(served.tenant, "default", Kind.MULTICLOUD_MONGODB, name)
    served.run(served.bus.status.put(key.status_key, StatusRecord(kind="MultiCloudMongoDB", multicloud=status)))


def test_wait_returns_once_the_state_is_reached(cli: Callable[..., Any], served: ServedGateway, name: str) -> None:
    cli("apply", "-f", "-", input=manifest(name))
    set_status(served, name, InstanceState.CREATING)
    later = threading.Timer(1.0, set_status, (served, name, InstanceState.HEALTH, "True"))
    later.start()
    result = cli("wait", "mcm", name, "--for", "state=Health", "--timeout", "20")
    later.join()
    assert (0, f"multicloudmongodb.middleware.fedstate.io/{name} condition met\n") == (result.exit_code, result.stdout)
    assert 0 == cli("wait", "mcm", name, "--for", "condition=ServerReady", "--timeout", "5").exit_code


def test_wait_times_out_with_the_last_state(cli: Callable[..., Any], served: ServedGateway, name: str) -> None:
    cli("apply", "-f", "-", input=manifest(name))
    set_status(served, name, InstanceState.CREATING)
    result = cli("wait", "mcm", name, "--for", "state=Health", "--timeout", "1")
    assert 1 == result.exit_code
    assert "error: timed out after 1s waiting for state=Health (state is Creating)\n" == result.stderr


def test_wait_for_delete_sees_the_object_go(cli: Callable[..., Any], name: str) -> None:
    """A ConfigMap has no finalizer, so the intake removes it at once."""
    cli("apply", "-f", "-", input=manifest(name, "ConfigMap"))
    assert f'configmap "{name}" deleted\n' == cli("delete", "configmap", name).stdout
    assert 0 == cli("wait", "cm", name, "--for", "delete", "--timeout", "5").exit_code


def test_delete_marks_an_instance_for_the_federation(cli: Callable[..., Any], name: str) -> None:
    """With --wait=false it returns at once: nothing finalizes the instance here (no federation service)."""
    cli("apply", "-f", "-", input=manifest(name))
    result = cli("delete", "mcm", name, "--wait=false")
    assert f'multicloudmongodb.middleware.fedstate.io "{name}" deleted\n' == result.stdout
    document = yaml.safe_load(cli("get", "mcm", name, "-o", "yaml").stdout)
    assert "deletionTimestamp" in document["metadata"]


def test_scale_replaces_the_spec_with_a_new_generation(cli: Callable[..., Any], name: str) -> None:
    cli("apply", "-f", "-", input=manifest(name))
    assert (
        f"multicloudmongodb.middleware.fedstate.io/{name} scaled\n"
        == cli("scale", "mcm", name, "--replicas", "5").stdout
    )
    document = yaml.safe_load(cli("get", "mcm", name, "-o", "yaml").stdout)
    assert (5, 2) == (document["spec"]["replicaset"], document["metadata"]["generation"])
