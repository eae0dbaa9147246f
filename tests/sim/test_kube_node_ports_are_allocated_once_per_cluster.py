# The official client types its methods as taking models, while it accepts plain dict bodies at runtime.
# mypy: disable-error-code="arg-type, union-attr"
"""A nodePort belongs to one Service port of a cluster, inside 30000-32767, as kube-apiserver allocates it."""

from __future__ import annotations

from typing import Any

import pytest
from kube_support import new_namespace, refusal, refused_fields
from kubernetes import client
from kubernetes.client.exceptions import ApiException


@pytest.fixture
def core(sim_core: client.CoreV1Api) -> client.CoreV1Api:
    return sim_core


def service(name: str, *ports: tuple[int, int, str]) -> dict[str, Any]:
    """A NodePort Service with (port, nodePort, protocol) ports."""
    return {
        "metadata": {"name": name},
        "spec": {
            "type": "NodePort",
            "ports": [
                {"name": f"p{port}-{protocol.lower()}", "port": port, "nodePort": node_port, "protocol": protocol}
                for port, node_port, protocol in ports
            ],
        },
    }


def test_one_service_cannot_list_a_node_port_twice(core: client.CoreV1Api) -> None:
    """Two ports of one Service on the same nodePort and protocol: 422 Duplicate value on the second."""
    ns = new_namespace(core)
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_service(ns, service("twice", (27017, 31500, "TCP"), (27018, 31500, "TCP")))
    assert 422 == refused.value.status
    assert ["spec.ports[1].nodePort"] == refused_fields(refused.value)
    assert (
        'Service "twice" is invalid: spec.ports[1].nodePort: Duplicate value: 31500'
        in refusal(refused.value)["message"]
    )
    assert "FieldValueDuplicate" == refusal(refused.value)["details"]["causes"][0]["reason"]
    both = core.create_namespaced_service(ns, service("tcp-and-udp", (53, 31501, "TCP"), (53, 31501, "UDP")))
    assert [31501, 31501] == [p.node_port for p in both.spec.ports]


def test_a_node_port_taken_by_another_service_is_refused(core: client.CoreV1Api) -> None:
    """Across Services (and namespaces) of a cluster a nodePort is allocated once: 422 already allocated."""
    first, second = new_namespace(core), new_namespace(core)
    core.create_namespaced_service(first, service("owner", (27017, 31600, "TCP")))
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_service(second, service("thief", (27017, 31600, "TCP")))
    assert 422 == refused.value.status
    assert ["spec.ports[0].nodePort"] == refused_fields(refused.value)
    assert "Invalid value: 31600: provided port is already allocated" in refusal(refused.value)["message"]
    with pytest.raises(ApiException) as patched:
        core.create_namespaced_service(second, service("other", (27017, 31601, "TCP")))
        core.patch_namespaced_service("other", second, {"spec": {"ports": [{"port": 27017, "nodePort": 31600}]}})
    assert 422 == patched.value.status


@pytest.mark.parametrize("node_port", [29999, 32768, 80])
def test_a_node_port_outside_the_range_is_refused(core: client.CoreV1Api, node_port: int) -> None:
    """30000-32767 is the service-node-port-range of every simulated cluster."""
    ns = new_namespace(core)
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_service(ns, service("far", (27017, node_port, "TCP")))
    assert 422 == refused.value.status
    assert ["spec.ports[0].nodePort"] == refused_fields(refused.value)
    assert (
        "provided port is not in the valid range. The range of valid ports is 30000-32767"
        in (refusal(refused.value)["message"])
    )


def test_a_cluster_ip_service_has_no_node_port(core: client.CoreV1Api) -> None:
    """A nodePort on a ClusterIP Service is 422; turning a NodePort Service into ClusterIP clears its nodePorts."""
    ns = new_namespace(core)
    body = service("inside", (27017, 31700, "TCP"))
    body["spec"]["type"] = "ClusterIP"
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_service(ns, body)
    assert ["spec.ports[0].nodePort"] == refused_fields(refused.value)
    assert "Forbidden: may not be used when `type` is 'ClusterIP'" in refusal(refused.value)["message"]
    core.create_namespaced_service(ns, service("outside", (27017, 31700, "TCP")))
    inside = core.patch_namespaced_service("outside", ns, {"spec": {"type": "ClusterIP"}})
    assert [None] == [p.node_port for p in inside.spec.ports]


def test_a_node_port_given_up_by_an_update_or_a_delete_can_be_taken_by_another_service(core: client.CoreV1Api) -> None:
    """An update that drops a port, and a delete, give its nodePort back; the ports a Service keeps stay its own."""
    ns = new_namespace(core)
    core.create_namespaced_service(ns, service("first", (27017, 31701, "TCP"), (27018, 31702, "TCP")))
    core.create_namespaced_service(ns, service("other", (27017, 31703, "TCP")))

    core.replace_namespaced_service("first", ns, service("first", (27017, 31701, "TCP")))
    core.create_namespaced_service(ns, service("second", (27017, 31702, "TCP")))
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_service(ns, service("third", (27017, 31701, "TCP")))
    assert 422 == refused.value.status

    core.delete_namespaced_service("first", ns)
    core.create_namespaced_service(ns, service("third", (27017, 31701, "TCP")))
    for taken in (31702, 31703):  # the others' ports stayed theirs through it all
        with pytest.raises(ApiException):
            core.create_namespaced_service(ns, service("fourth", (27017, taken, "TCP")))
