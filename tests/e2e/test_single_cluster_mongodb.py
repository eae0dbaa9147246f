"""Single-cluster mode (issue 5, item 6): a MongoDB object for one member cluster, applied through the
CLI with the cluster named or created as a custom resource on that cluster's API, is reconciled by that
cluster's agent alone and reports the seed's status."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from fedstate.api.resources import MONGODB
from fedstate.bus.connection import connect
from fedstate.bus.names import InstanceKey, Kind
from fedstate.bus.objects import LocalObject
from fedstate.cli.localstack import LocalStack
from fedstate.models.mongodb import MongoDBStatus
from tests.conftest import EXAMPLES, REFERENCE, example

from .invariants import Ledger, kube, node_port_hosts, objects_of, replica_set, wait_gone

SAMPLE = "mongodb-sample"
CUSTOM_CONFIG = "mongo-operator-mongo-default-config"  # the sample's customConfigRef
SEED_CONDITIONS = {"rsInit", "userRoot", "userClusterAdmin"}
CRDS = EXAMPLES.parent / "k8s" / "crds.yaml"


def get_json(stack: LocalStack, name: str, cluster: str) -> dict[str, Any]:
    return dict(json.loads(stack.cli("get", "mongodb", name, "--cluster", cluster, "-o", "json").stdout))


def wait_running(stack: LocalStack, name: str, cluster: str, members: int, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        obj = get_json(stack, name, cluster)
        status = obj.get("status") or {}
        if status.get("state") == "Running" and status.get("currentInfo", {}).get("members") == members:
            return status
        time.sleep(0.5)
    raise AssertionError(f"{name} not Running with {members} members after {timeout}s: {status}")


def seed_shape(status: dict[str, Any], members: int) -> None:
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert {c: "True" for c in SEED_CONDITIONS} == {c: conditions.get(c) for c in SEED_CONDITIONS}
    assert status["currentRevision"]
    assert members == len(status["replset"])
    assert {"_id", "name", "health", "state", "stateStr", "syncSourceHost"} <= set(status["replset"][0])
    assert 1 == [m["stateStr"] for m in status["replset"]].count("PRIMARY")


def wait_state(stack: LocalStack, name: str, cluster: str, state: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = get_json(stack, name, cluster).get("status") or {}
        if status.get("state") == state:
            return status
        time.sleep(0.5)
    raise AssertionError(f"{name} not {state} after {timeout}s: {status}")


def test_the_seed_sample_runs_in_the_named_cluster_scales_and_is_deleted(stack: LocalStack, tmp_path: Path) -> None:
    # The seed as written asks for mongo:3.6, which no agent could connect to: refused, nothing stored.
    seed = stack.cli("apply", "-f", str(REFERENCE / "mongodb-sample.yaml"), "--cluster", "member-2", check=False)
    assert 0 != seed.returncode and "spec.image: mongo:3.6 runs MongoDB 3.6" in seed.stderr, seed.stderr
    assert 0 != stack.cli("get", "mongodb", SAMPLE, "--cluster", "member-2", check=False).returncode, "stored"
    alone = tmp_path / "mongodb-sample.yaml"  # the seed with a supported image, without deploy/examples' ConfigMap
    alone.write_text(yaml.safe_dump(example("MongoDB")))
    stack.cli("apply", "-f", str(alone), "--cluster", "member-2")
    # The sample names a customConfigRef nobody created: an error that says so, not a healthy-looking set.
    missing = wait_state(stack, SAMPLE, "member-2", "Error")
    config_ref = next(c for c in missing["conditions"] if c["type"] == "ConfigRefFound")
    assert ("False", "ConfigMapNotFound") == (config_ref["status"], config_ref["reason"])
    assert CUSTOM_CONFIG in config_ref["message"]
    with kube(stack, "member-2") as api:
        config_map = {
            "metadata": {"name": CUSTOM_CONFIG},
            "data": {"mongod.conf": "net:\n  maxIncomingConnections: 500\n"},
        }
        client.CoreV1Api(api).create_namespaced_config_map("default", config_map)
    status = wait_running(stack, SAMPLE, "member-2", 1)
    seed_shape(status, 1)
    assert {"member-2"} == set(objects_of(stack, SAMPLE)), "only the named cluster runs it"
    hosts = ",".join(m["name"] for m in status["replset"])
    ledger = Ledger(f"mongodb://root:123456@{hosts}/?replicaSet={SAMPLE}&authSource=admin")
    ledger.write()

    stack.cli("scale", "mongodb", SAMPLE, "--replicas", "3")
    status = wait_running(stack, SAMPLE, "member-2", 3)
    seed_shape(status, 3)
    rs_status, rs_config = replica_set(ledger.uri)
    assert 1 == [m["stateStr"] for m in rs_status["members"]].count("PRIMARY")
    assert 3 == sum(1 for m in rs_config["members"] if m["votes"])
    assert sorted(node_port_hosts(stack, SAMPLE).values()) == sorted(m["host"] for m in rs_config["members"])
    assert [] == ledger.missing()
    assert {"member-2"} == set(objects_of(stack, SAMPLE))
    wrong = stack.cli("get", "mongodb", SAMPLE, "--cluster", "member-1", check=False)
    assert 0 != wrong.returncode and "member-2" in wrong.stderr

    stack.cli("delete", "mongodb", SAMPLE)
    wait_gone(stack, SAMPLE, MONGODB)
    left = objects_of(stack, SAMPLE)
    assert {"member-2": {"persistent_volume_claim"}} == {c: set(kinds) for c, kinds in left.items()}


def test_the_example_brings_its_config_map_through_fedstate_and_runs(stack: LocalStack) -> None:
    """deploy/examples/mongodb-sample.yaml carries the ConfigMap its customConfigRef names; applied through
    fedstate (not in the member cluster), the agent still finds it."""
    stack.cli("apply", "-f", str(EXAMPLES / "mongodb-sample.yaml"), "--cluster", "member-3")
    status = wait_running(stack, SAMPLE, "member-3", 1)
    assert "True" == next(c["status"] for c in status["conditions"] if c["type"] == "ConfigRefFound")
    stack.cli("delete", "mongodb", SAMPLE)
    wait_gone(stack, SAMPLE, MONGODB)


def patched_until_told(custom: client.CustomObjectsApi, patch: dict[str, Any], told: str) -> dict[str, Any]:
    """The custom resource ``crdb`` patched, once its status says ``told`` (or as it is after 30 s)."""
    custom.patch_namespaced_custom_object("middleware.fedstate.io", "v1alpha1", "default", "mongodbs", "crdb", patch)
    deadline = time.monotonic() + 30
    while True:
        found: dict[str, Any] = custom.get_namespaced_custom_object(
            "middleware.fedstate.io", "v1alpha1", "default", "mongodbs", "crdb"
        )
        if told in json.dumps(found.get("status")) or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def test_a_custom_resource_on_the_member_cluster_is_reconciled_by_its_agent(stack: LocalStack) -> None:
    crd = next(d for d in yaml.safe_load_all(CRDS.read_text()) if d["metadata"]["name"].startswith("mongodbs."))
    with kube(stack, "member-3") as api:
        try:
            client.ApiextensionsV1Api(api).create_custom_resource_definition(crd)
        except ApiException as exc:
            assert 409 == exc.status
        custom = client.CustomObjectsApi(api)
        body = {
            "apiVersion": "middleware.fedstate.io/v1alpha1",
            "kind": "MongoDB",
            "metadata": {"name": "crdb", "namespace": "default"},
            "spec": {
                "members": 1,
                "rootPassword": "cr-pass",
                "metricsExporterSpec": {"enable": False},
                "image": "mongo:4.2",
            },
        }
        # No intake stands between a custom resource and the agent: the agent refuses a release its driver cannot
        # reach, in the resource's status, and deploys nothing.
        custom.create_namespaced_custom_object("middleware.fedstate.io", "v1alpha1", "default", "mongodbs", body)
        deadline = time.monotonic() + 30
        found: dict[str, Any] = {}
        while time.monotonic() < deadline and (found.get("status") or {}).get("state") != "Error":
            time.sleep(0.3)
            found = custom.get_namespaced_custom_object(
                "middleware.fedstate.io", "v1alpha1", "default", "mongodbs", "crdb"
            )
        ready = next(c for c in found["status"]["conditions"] if c["type"] == "Ready")
        assert "spec.image: mongo:4.2 runs MongoDB 4.2" in ready["message"], found["status"]
        assert "stateful_set" not in objects_of(stack, "crdb").get("member-3", {})
        # Nor does an intake refuse a request above its limit, which the cluster's API server would refuse in the
        # StatefulSet: the agent says so, naming the field, and deploys nothing.
        greedy = {"limits": {"cpu": "1"}, "requests": {"cpu": "2"}}
        told = "spec.resources.requests.cpu: 2 must be less than or equal to the cpu limit of 1"
        found = patched_until_told(custom, {"spec": {"image": "mongo:6.0", "resources": greedy}}, told)
        ready = next(c for c in found["status"]["conditions"] if c["type"] == "Ready")
        assert ("Error", "Invalid") == (found["status"]["state"], ready["reason"]) and told in ready["message"]
        assert "stateful_set" not in objects_of(stack, "crdb").get("member-3", {})
        # A toleration kube-apiserver refuses reaches the cluster's API: its refusal is the resource's status.
        bad = [{"key": "dedicated", "operator": "Exist"}]
        patch = {
            "spec": {"resources": {"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}, "podSpec": {"tolerations": bad}}
        }
        found = patched_until_told(custom, patch, "the cluster's API refused StatefulSet crdb-m0")
        ready = next(c for c in found["status"]["conditions"] if c["type"] == "Ready")
        assert (
            "Error" == found["status"]["state"]
            and 'tolerations[0].operator: Unsupported value: "Exist"' in ready["message"]
        )
        patch = {"spec": {"podSpec": {"tolerations": []}}}
        custom.patch_namespaced_custom_object(
            "middleware.fedstate.io", "v1alpha1", "default", "mongodbs", "crdb", patch
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            found = custom.get_namespaced_custom_object(
                "middleware.fedstate.io", "v1alpha1", "default", "mongodbs", "crdb"
            )
            if (found.get("status") or {}).get("state") == "Running":
                break
            time.sleep(0.5)
        seed_shape(found["status"], 1)
        assert ["fedstate.io/agent"] == found["metadata"]["finalizers"]
        assert {"member-3"} == set(objects_of(stack, "crdb"))
        listed = listed_mongodbs(stack)
        assert ("member-3", "Running") == (listed["crdb"][1], listed["crdb"][3]), "get mongodb lists the resource"
        shown = get_json(stack, "crdb", "member-3")
        assert "custom-resource" == shown["metadata"]["annotations"]["fedstate.io/source"]
        assert "<redacted>" == shown["spec"]["rootPassword"]

        custom.delete_namespaced_custom_object("middleware.fedstate.io", "v1alpha1", "default", "mongodbs", "crdb")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                custom.get_namespaced_custom_object("middleware.fedstate.io", "v1alpha1", "default", "mongodbs", "crdb")
            except ApiException as exc:
                assert 404 == exc.status
                break
            time.sleep(0.3)
        else:
            raise AssertionError("the custom resource was never released by the agent")
    left = objects_of(stack, "crdb")
    assert {"member-3": {"persistent_volume_claim"}} == {c: set(kinds) for c, kinds in left.items()}
    deadline = time.monotonic() + 30
    while "crdb" in listed_mongodbs(stack) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert "crdb" not in listed_mongodbs(stack), "a deleted custom resource leaves the listing"


def test_a_mirror_whose_resource_went_while_its_agent_was_down_is_removed_at_start(stack: LocalStack) -> None:
    """The agent looks at the mirrors its cluster published when it starts, and drops those whose custom
    resource is gone (here one that never existed, as if deleted while the agent was down)."""
    key = InstanceKey("default", "default", Kind.MONGODB, "ghost").local_object_key("member-2")
    found = {"apiVersion": "middleware.fedstate.io/v1alpha1", "kind": "MongoDB", "metadata": {"name": "ghost"}}
    asyncio.run(put_mirror(stack, key, LocalObject.of_custom_resource(found, "default", "member-2", MongoDBStatus())))
    assert "ghost" in listed_mongodbs(stack)
    stack.kill("agent-member-2")
    stack.restart("agent-member-2")
    deadline = time.monotonic() + 60
    while "ghost" in listed_mongodbs(stack) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert "ghost" not in listed_mongodbs(stack)


async def put_mirror(stack: LocalStack, key: str, mirror: LocalObject) -> None:
    admin, access = stack.admin_access()
    bus = await connect(stack.nats_url, name="e2e-mirror", identity=admin, access=access)
    try:
        await bus.local.put(key, mirror)
    finally:
        await bus.close()


def listed_mongodbs(stack: LocalStack) -> dict[str, list[str]]:
    """``fedstate get mongodb``'s rows by name (NAME CLUSTER MEMBERS STATE ...)."""
    rows = stack.cli("get", "mongodb").stdout.splitlines()[1:]
    return {row.split()[0]: row.split() for row in rows}
