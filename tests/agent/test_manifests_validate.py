"""Every object the agent generates validates against the official Kubernetes schemas."""

from __future__ import annotations

import kubernetes_validate
import pytest

from fedstate.models.dataplane import Credentials, DataPlaneSpec, InstanceRef, MemberSpec
from fedstate.models.multicloud import ConfigEntry, ExportSpec
from fedstate_agent.manifests import render_all

K8S_VERSION = "1.31"


def spec(**changes: object) -> DataPlaneSpec:
    base = DataPlaneSpec(
        instance=InstanceRef(tenant="default", namespace="default", name="rs"),
        generation=1,
        repl_set_name="rs",
        members=[MemberSpec(ordinal=0, name="rs-m0"), MemberSpec(ordinal=3, name="rs-m3")],
        credentials=Credentials(
            key_file="k" * 64, root_password="r", cluster_admin_password="c", cluster_monitor_password="m"
        ),
        node_selector={"deploy": "mongo"},
        image_pull_secret="my-image-secret",
        revision="rs-abc",
    )
    return base.model_copy(update=changes)


@pytest.mark.parametrize(
    "variant",
    [
        {},
        {
            "export": ExportSpec.model_validate(
                {"enable": True, "resource": {"requests": {"cpu": "200m", "memory": "256Mi"}}}
            )
        },
        {
            "config_content": {"mongod.conf": "net:\n  maxIncomingConnections: 100\n"},
            "config_set": [ConfigEntry(name="a", value="b")],
        },
        {
            "security_context": {"runAsUser": 999, "fsGroup": 999},
            "topology_spread_constraints": [
                {
                    "maxSkew": 1,
                    "topologyKey": "kubernetes.io/hostname",
                    "whenUnsatisfiable": "ScheduleAnyway",
                    "labelSelector": {"matchLabels": {"app.kubernetes.io/instance": "rs"}},
                }
            ],
        },
    ],
)
def test_generated_objects_validate(variant: dict[str, object]) -> None:
    objects = render_all(spec(**variant))
    for obj in objects:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    kinds = [o["kind"] for o in objects]
    assert 2 == kinds.count("StatefulSet") == kinds.count("Service")


def test_each_member_gets_its_own_nodeport_service_and_one_replica_statefulset() -> None:
    objects = {(o["kind"], o["metadata"]["name"]): o for o in render_all(spec())}
    assert "NodePort" == objects[("Service", "rs-m3")]["spec"]["type"]
    sts = objects[("StatefulSet", "rs-m3")]
    assert 1 == sts["spec"]["replicas"]
    assert ["mongod"] == sts["spec"]["template"]["spec"]["containers"][0]["command"]
    assert "Retain" == sts["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"]
