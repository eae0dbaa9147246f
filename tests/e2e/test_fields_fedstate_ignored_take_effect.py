"""Fields FedState ignores (issue 5, item 5) take effect: config.arbiter, storage.storageClass,
imageSetting.imagePullPolicy and imagePullSecret, config.configSet."""

from __future__ import annotations

from kubernetes import client

from fedstate.cli.localstack import LocalStack

from .invariants import Ledger, apply, check, cluster_names, kube, uri_for, wait_settled

NAME = "fieldy"
PASSWORD = "field-pass"


def test_arbiter_storage_class_pull_settings_and_config_set_reach_the_members(stack: LocalStack) -> None:
    apply(
        stack,
        NAME,
        "{replicaset: 2, auth: {rootPasswd: " + PASSWORD + "},"
        " config: {arbiter: true, configSet: [{name: operationProfiling.slowOpThresholdMs, value: '50'}]},"
        " storage: {storageClass: managed-nfs-storage},"
        " imageSetting: {imagePullPolicy: Always, imagePullSecret: my-image-secret}}",
    )
    status = wait_settled(stack, NAME)
    ledger = Ledger(uri_for(status, NAME, PASSWORD))
    ledger.write()
    rs_config = check(stack, NAME, ledger, extra_config_maps=3)
    arbiters = [m for m in rs_config["members"] if m.get("arbiterOnly")]
    assert 1 == len(arbiters) and (1, 0) == (arbiters[0]["votes"], arbiters[0]["priority"])
    assert 3 == len(rs_config["members"])
    assert sorted(role for r in status["result"] for role in r["connectAddrWithRole"].values()) == [
        "ARBITER", "PRIMARY", "SECONDARY",
    ]  # fmt: skip
    arbiter_name = f"{NAME}-m{arbiters[0]['_id']}"
    for cluster in cluster_names(stack):
        with kube(stack, cluster) as api:
            core = client.CoreV1Api(api)
            selector = f"app.kubernetes.io/instance={NAME}"
            for claim in core.list_namespaced_persistent_volume_claim("default", label_selector=selector).items:
                assert "managed-nfs-storage" == claim.spec.storage_class_name
                assert arbiter_name not in claim.metadata.name, "an arbiter keeps no data"
            for pod in core.list_namespaced_pod("default", label_selector=selector).items:
                mongod = next(c for c in pod.spec.containers if c.name == "mongod")
                assert "Always" == mongod.image_pull_policy
                assert ["my-image-secret"] == [s.name for s in pod.spec.image_pull_secrets]
                assert "/etc/mongod/fedstate-mongod.conf" == mongod.args[mongod.args.index("--config") + 1]
            for config_map in core.list_namespaced_config_map("default", label_selector=selector).items:
                assert "slowOpThresholdMs: 50" in config_map.data["fedstate-mongod.conf"]
