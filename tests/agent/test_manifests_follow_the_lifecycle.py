"""Manifests for the lifecycle: uid-named volumes, arbiters without data, claims kept on update, pull
Secrets from credentials, the merged mongod config, and a kind label that keeps two kinds apart."""

from __future__ import annotations

import base64
import json

import kubernetes_validate
import yaml

from fedstate.models.dataplane import Credentials, DataPlaneSpec, InstanceRef, MemberSpec
from fedstate.models.multicloud import ConfigEntry, RegistryCredentials
from fedstate_agent.manifests import (
    KIND_LABEL,
    auth_secret,
    keep_volume_claims,
    member_statefulset,
    mongod_config,
    pull_secret,
    render_all,
)

UID = "0f1e2d3c-aaaa-4000-8000-000000000000"


def spec(**changes: object) -> DataPlaneSpec:
    base = DataPlaneSpec(
        instance=InstanceRef(tenant="default", namespace="default", name="rs", uid=UID),
        generation=1,
        repl_set_name="rs",
        members=[MemberSpec(ordinal=0, name="rs-m0"), MemberSpec(ordinal=5, name="rs-m5", arbiter=True)],
        credentials=Credentials(
            key_file="k" * 64, root_password="r", cluster_admin_password="c", cluster_monitor_password="m"
        ),
        revision="rs-abc",
    )
    return base.model_copy(update=changes)


def by_name(objects: list[dict[str, object]]) -> dict[tuple[str, str], dict[str, object]]:
    return {(str(o["kind"]), o["metadata"]["name"]): o for o in objects}  # type: ignore[index]


def test_data_volumes_are_named_after_the_uid_and_an_arbiter_keeps_no_data() -> None:
    objects = by_name(render_all(spec()))
    data = objects[("StatefulSet", "rs-m0")]["spec"]
    arbiter = objects[("StatefulSet", "rs-m5")]["spec"]
    assert ["data-0f1e2d3c"] == [c["metadata"]["name"] for c in data["volumeClaimTemplates"]]  # type: ignore[index]
    assert [] == arbiter["volumeClaimTemplates"]  # type: ignore[index]
    assert {"name": "data-0f1e2d3c", "emptyDir": {}} in arbiter["template"]["spec"]["volumes"]  # type: ignore[index]
    for obj in objects.values():
        kubernetes_validate.validate(obj, "1.31", strict=True)


def test_the_kind_label_is_on_objects_but_never_on_pod_templates() -> None:
    sts = member_statefulset(spec(), spec().members[0])
    assert "multicloudmongodb" == sts["metadata"]["labels"][KIND_LABEL]
    assert KIND_LABEL not in sts["spec"]["template"]["metadata"]["labels"]
    assert KIND_LABEL not in sts["spec"]["selector"]["matchLabels"]


def test_an_update_keeps_the_claim_templates_a_statefulset_was_created_with() -> None:
    old = member_statefulset(
        spec(instance=InstanceRef(tenant="default", namespace="default", name="rs")), spec().members[0]
    )
    new = keep_volume_claims(member_statefulset(spec(image="mongo:7.0"), spec().members[0]), old)
    assert old["spec"]["volumeClaimTemplates"] == new["spec"]["volumeClaimTemplates"]
    mounts = new["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert "data" == next(m["name"] for m in mounts if m["mountPath"] == "/data/db")
    assert "mongo:7.0" == new["spec"]["template"]["spec"]["containers"][0]["image"]


def test_registry_credentials_become_a_dockerconfigjson_secret() -> None:
    secret = pull_secret(
        spec(image_pull_secret="rs-pull", registry_credentials=RegistryCredentials(username="u", password="p"))
    )
    assert secret is not None and "kubernetes.io/dockerconfigjson" == secret["type"]
    config = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
    assert "u" == config["auths"]["https://index.docker.io/v1/"]["username"]


def test_config_set_options_merge_over_the_config_ref_content() -> None:
    config = mongod_config(
        spec(
            config_content={"mongod.conf": "net: {maxIncomingConnections: 10, port: 27017}\n", "notes.txt": "x"},
            config_set=[ConfigEntry(name="net.maxIncomingConnections", value="100")],
        )
    )
    assert config is not None
    assert {"net": {"maxIncomingConnections": 100, "port": 27017}} == yaml.safe_load(
        config["data"]["fedstate-mongod.conf"]
    )
    assert "x" == config["data"]["notes.txt"]


def test_the_previous_root_password_stays_in_the_secret_for_a_rotation_to_finish() -> None:
    creds = spec().credentials.model_copy(update={"previous_root_password": "old"})
    data = auth_secret(spec(credentials=creds))["data"]
    assert "old" == base64.b64decode(data["previous-root-password"]).decode()
