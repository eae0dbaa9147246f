# The official client types every model field as Optional and its methods as taking models, while it
# accepts plain dict bodies at runtime; these tests read fields the server always sets.
# mypy: disable-error-code="union-attr, arg-type, index, operator, misc"
"""The blocking official ``kubernetes`` client works unchanged against the simulated API server."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kube_support import crd, mongod_statefulset, new_namespace, node_port_service, wait_until
from kubernetes import client, config, dynamic, watch
from kubernetes.client.exceptions import ApiException

from fedstate_sim.config import SimSettings, default_config
from fedstate_sim.threaded import ThreadedWorld
from fedstate_sim.world import NullMemberHost, World

HISTORY = 40


@pytest.fixture(scope="module")
def world() -> Iterator[ThreadedWorld]:
    with World.run_in_thread(default_config(2, SimSettings(watch_history=HISTORY)), host=NullMemberHost()) as w:
        yield w


@pytest.fixture(scope="module")
def kubeconfig(world: ThreadedWorld, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return world.write_kubeconfig(tmp_path_factory.mktemp("kube") / "config")


@pytest.fixture(scope="module")
def api(kubeconfig: Path) -> Iterator[client.ApiClient]:
    api_client = config.new_client_from_config(str(kubeconfig), context="member-1")
    yield api_client
    api_client.close()


@pytest.fixture
def core(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


@pytest.fixture
def apps(api: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api)


@pytest.fixture
def ns(core: client.CoreV1Api) -> str:
    return new_namespace(core)


def _status(exc: ApiException) -> dict[str, object]:
    return json.loads(exc.body)


def _pod(name: str, labels: dict[str, str] | None = None) -> dict[str, object]:
    return {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }


def test_discovery_documents(api: client.ApiClient) -> None:
    """/version, /api and /apis answer in the shapes the typed client expects."""
    version = client.VersionApi(api).get_code()
    assert "fedstate-sim" in version.git_version
    assert client.CoreApi(api).get_api_versions().versions == ["v1"]
    groups = {g.name for g in client.ApisApi(api).get_api_versions().groups}
    assert {"apps", "storage.k8s.io", "coordination.k8s.io", "apiextensions.k8s.io"} <= groups
    resources = {r.name: r for r in client.AppsV1Api(api).get_api_resources().resources}
    assert resources["statefulsets"].namespaced and "watch" in resources["statefulsets"].verbs


def test_pod_crud_and_not_found(core: client.CoreV1Api, ns: str) -> None:
    created = core.create_namespaced_pod(ns, _pod("p1"))
    assert created.metadata.uid and created.metadata.resource_version and created.metadata.generation is None
    read = core.read_namespaced_pod("p1", ns)
    read.metadata.labels = {"edited": "yes"}
    replaced = core.replace_namespaced_pod("p1", ns, read)
    assert replaced.metadata.labels == {"edited": "yes"}
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)
    core.delete_namespaced_pod("p1", ns)
    with pytest.raises(ApiException) as missing:
        core.read_namespaced_pod("p1", ns)
    status = _status(missing.value)
    assert (missing.value.status, status["reason"], status["kind"]) == (404, "NotFound", "Status")
    assert status["message"] == 'pods "p1" not found (fedstate simulator)'


def test_create_twice_is_already_exists(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "cm"}, "data": {"a": "1"}})
    with pytest.raises(ApiException) as duplicate:
        core.create_namespaced_config_map(ns, {"metadata": {"name": "cm"}})
    assert (duplicate.value.status, _status(duplicate.value)["reason"]) == (409, "AlreadyExists")


def test_stale_resource_version_is_a_conflict(core: client.CoreV1Api, ns: str) -> None:
    original = core.create_namespaced_config_map(ns, {"metadata": {"name": "cm"}, "data": {"a": "1"}})
    original.data = {"a": "2"}
    core.replace_namespaced_config_map("cm", ns, original)
    original.data = {"a": "3"}
    with pytest.raises(ApiException) as stale:
        core.replace_namespaced_config_map("cm", ns, original)
    assert (stale.value.status, _status(stale.value)["reason"]) == (409, "Conflict")
    assert core.read_namespaced_config_map("cm", ns).data == {"a": "2"}


def test_namespace_must_exist_and_generate_name(core: client.CoreV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as missing:
        core.create_namespaced_config_map("no-such-ns", {"metadata": {"name": "cm"}})
    assert missing.value.status == 404
    made = core.create_namespaced_config_map(ns, {"metadata": {"generateName": "cm-"}})
    assert made.metadata.name.startswith("cm-") and len(made.metadata.name) == 8


def test_patch_flavours(apps: client.AppsV1Api, core: client.CoreV1Api, ns: str) -> None:
    """A dict body is a strategic merge (containers merge by name); a list is a JSON patch; apply works."""
    apps.create_namespaced_stateful_set(ns, mongod_statefulset("db"))
    patched = apps.patch_namespaced_stateful_set(
        "db", ns, {"spec": {"template": {"spec": {"containers": [{"name": "mongod", "image": "mongo:7.0"}]}}}}
    )
    container = patched.spec.template.spec.containers[0]
    assert (container.image, container.command[0], patched.metadata.generation) == ("mongo:7.0", "mongod", 2)
    patched = apps.patch_namespaced_stateful_set("db", ns, [{"op": "replace", "path": "/spec/replicas", "value": 0}])
    assert patched.spec.replicas == 0
    applied = core.patch_namespaced_config_map(
        "settings",
        ns,
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"k": "v"}},
        field_manager="fedstate-agent",
        _content_type="application/apply-patch+yaml",
    )
    assert applied.data == {"k": "v"}
    assert applied.metadata.managed_fields[0].manager == "fedstate-agent"
    again = core.patch_namespaced_config_map(
        "settings",
        ns,
        {"metadata": {"name": "settings"}, "data": {"j": "w"}},
        field_manager="fedstate-agent",
        _content_type="application/apply-patch+yaml",
    )
    assert again.data == {"j": "w"}  # apply is declarative: the manager dropped k (field ownership: its own test)


def test_label_and_field_selectors(core: client.CoreV1Api, ns: str) -> None:
    for name, labels in (("a", {"app": "db", "tier": "data"}), ("b", {"app": "db"}), ("c", {"app": "web"})):
        core.create_namespaced_pod(ns, _pod(name, labels))

    def names(**kwargs: str) -> list[str]:
        return [p.metadata.name for p in core.list_namespaced_pod(ns, **kwargs).items]

    assert names(label_selector="app=db") == ["a", "b"]
    assert names(label_selector="app!=db") == ["c"]
    assert names(label_selector="app in (web),!tier") == ["c"]
    assert names(label_selector="tier") == ["a"]
    assert names(field_selector="metadata.name=b") == ["b"]
    everywhere = core.list_pod_for_all_namespaces(label_selector="app=db", field_selector=f"metadata.namespace={ns}")
    assert [p.metadata.name for p in everywhere.items] == ["a", "b"]
    assert int(everywhere.metadata.resource_version) > 0


def test_a_field_the_kind_does_not_support_is_a_400_as_kube_apiserver_answers(core: client.CoreV1Api, ns: str) -> None:
    """Code that selects on an unsupported field must fail here as it would on a real cluster, not get []."""
    core.create_namespaced_config_map(ns, {"metadata": {"name": "fs"}, "data": {"k": "v"}})
    with pytest.raises(ApiException) as refused:
        core.list_namespaced_config_map(ns, field_selector="data.k=v")
    assert 400 == refused.value.status
    assert "field label not supported: data.k" in json.loads(refused.value.body)["message"]
    assert ["fs"] == [
        c.metadata.name for c in core.list_namespaced_config_map(ns, field_selector="metadata.name=fs").items
    ]
    assert [] == core.list_namespaced_pod(ns, field_selector="spec.nodeName=nowhere,status.phase=Running").items
    with pytest.raises(ApiException) as watched:
        next(
            iter(
                watch.Watch().stream(core.list_namespaced_config_map, ns, field_selector="data.k=v", timeout_seconds=1)
            )
        )
    assert 400 == watched.value.status


def test_an_immutable_config_map_or_secret_keeps_its_data(core: client.CoreV1Api, ns: str) -> None:
    """``immutable: true`` is enforced as kube-apiserver enforces it: 422, the field named, nothing changed."""
    core.create_namespaced_config_map(ns, {"metadata": {"name": "frozen"}, "data": {"k": "v"}, "immutable": True})
    with pytest.raises(ApiException) as refused:
        core.patch_namespaced_config_map("frozen", ns, {"data": {"k": "w"}})
    assert 422 == refused.value.status
    assert "data: Forbidden: field is immutable when `immutable` is set" in json.loads(refused.value.body)["message"]
    with pytest.raises(ApiException):
        core.patch_namespaced_config_map("frozen", ns, {"immutable": False})
    assert {"k": "v"} == core.read_namespaced_config_map("frozen", ns).data
    core.patch_namespaced_config_map("frozen", ns, {"metadata": {"labels": {"still": "allowed"}}})
    core.create_namespaced_secret(ns, {"metadata": {"name": "sealed"}, "stringData": {"p": "1"}, "immutable": True})
    with pytest.raises(ApiException) as secret:
        core.patch_namespaced_secret("sealed", ns, {"stringData": {"p": "2"}})
    assert 422 == secret.value.status
    core.delete_namespaced_config_map("frozen", ns)  # deleting is how an immutable object is replaced


def test_node_ports_are_unique_kept_and_honoured(core: client.CoreV1Api, ns: str) -> None:
    first = core.create_namespaced_service(ns, node_port_service("s1", "x", node_port=31001))
    assert first.spec.ports[0].node_port == 31001 and first.spec.cluster_ip.startswith("127.")
    with pytest.raises(ApiException) as taken:
        core.create_namespaced_service(ns, node_port_service("s2", "x", node_port=31001))
    assert taken.value.status == 422 and "provided port is already allocated" in _status(taken.value)["message"]
    ports = {
        core.create_namespaced_service(ns, node_port_service(f"auto-{i}", "x")).spec.ports[0].node_port
        for i in range(20)
    }
    assert len(ports) == 20 and all(30000 <= p <= 32767 for p in ports) and 31001 not in ports
    kept = core.patch_namespaced_service("s1", ns, {"metadata": {"labels": {"x": "y"}}})
    assert kept.spec.ports[0].node_port == 31001
    core.delete_namespaced_service("s1", ns)
    assert core.create_namespaced_service(ns, node_port_service("s3", "x", 31001)).spec.ports[0].node_port == 31001


def test_cascading_delete_follows_owner_references(apps: client.AppsV1Api, core: client.CoreV1Api, ns: str) -> None:
    """Pods go with their StatefulSet; PVCs only under whenDeleted=Delete; Orphan keeps the pods."""
    apps.create_namespaced_stateful_set(ns, mongod_statefulset("keep", replicas=2))
    apps.create_namespaced_stateful_set(ns, mongod_statefulset("drop", replicas=1, retention="Delete"))
    apps.create_namespaced_stateful_set(ns, mongod_statefulset("orphan", replicas=1))

    def pods() -> set[str]:
        return {p.metadata.name for p in core.list_namespaced_pod(ns).items}

    wait_until(lambda: pods() == {"keep-0", "keep-1", "drop-0", "orphan-0"})
    apps.delete_namespaced_stateful_set("keep", ns)
    apps.delete_namespaced_stateful_set("drop", ns)
    apps.delete_namespaced_stateful_set("orphan", ns, propagation_policy="Orphan")
    wait_until(lambda: pods() == {"orphan-0"})
    claims = wait_until(
        lambda: (
            (names := {c.metadata.name for c in core.list_namespaced_persistent_volume_claim(ns).items})
            == {"data-keep-0", "data-keep-1", "data-orphan-0"}
            and names
        )
    )
    assert claims
    assert not core.read_namespaced_pod("orphan-0", ns).metadata.owner_references


def test_watch_resumes_from_a_resource_version(core: client.CoreV1Api, ns: str) -> None:
    start = core.list_namespaced_config_map(ns).metadata.resource_version
    core.create_namespaced_config_map(ns, {"metadata": {"name": "w1"}})
    core.patch_namespaced_config_map("w1", ns, {"data": {"seen": "yes"}})
    core.delete_namespaced_config_map("w1", ns)
    stream = watch.Watch().stream(core.list_namespaced_config_map, ns, resource_version=start, timeout_seconds=1)
    events = [(event["type"], event["object"].metadata.name) for event in stream]
    assert events == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]


def test_watch_without_version_starts_with_the_current_objects(core: client.CoreV1Api, ns: str) -> None:
    """Label-filtered watch: synthetic ADDED first; an object that stops matching is DELETED for the watcher."""
    core.create_namespaced_config_map(ns, {"metadata": {"name": "a", "labels": {"w": "1"}}})
    core.create_namespaced_config_map(ns, {"metadata": {"name": "b"}})
    stream = watch.Watch().stream(core.list_namespaced_config_map, ns, label_selector="w=1", timeout_seconds=1)
    first = next(stream)
    assert (first["type"], first["object"].metadata.name) == ("ADDED", "a")
    core.patch_namespaced_config_map("a", ns, {"metadata": {"labels": {"w": "2"}}})
    second = next(stream)
    assert (second["type"], second["object"].metadata.name) == ("DELETED", "a")


def test_watch_from_an_expired_version_is_410_gone(core: client.CoreV1Api, ns: str) -> None:
    """Past the kept history the client gets 410; relisting and watching again works."""
    start = core.list_namespaced_config_map(ns).metadata.resource_version
    for i in range(HISTORY + 5):
        core.create_namespaced_config_map(ns, {"metadata": {"name": f"cm-{i}"}})
    with pytest.raises(ApiException) as gone:
        for _ in watch.Watch().stream(core.list_namespaced_config_map, ns, resource_version=start):
            pass
    assert gone.value.status == 410 and "Expired" in gone.value.reason
    fresh = core.list_namespaced_config_map(ns).metadata.resource_version
    core.create_namespaced_config_map(ns, {"metadata": {"name": "after"}})
    stream = watch.Watch().stream(core.list_namespaced_config_map, ns, resource_version=fresh, timeout_seconds=1)
    assert [e["object"].metadata.name for e in stream] == ["after"]


def test_watch_from_a_future_version_asks_to_relist(core: client.CoreV1Api, ns: str) -> None:
    """A resourceVersion the simulator never issued (it restarted) is 504 Too large, like kube-apiserver."""
    current = int(core.list_namespaced_config_map(ns).metadata.resource_version)
    with pytest.raises(ApiException) as too_large:
        for _ in watch.Watch().stream(
            core.list_namespaced_config_map, ns, resource_version=str(current + 1000), timeout_seconds=1
        ):
            pass
    assert too_large.value.status == 504 and _status(too_large.value)["reason"] == "Timeout"


def test_status_subresource_separates_spec_and_status(api: client.ApiClient, ns: str) -> None:
    ext = client.ApiextensionsV1Api(api)
    ext.create_custom_resource_definition(crd())
    custom = client.CustomObjectsApi(api)
    group, version, plural = "middleware.fedstate.io", "v1alpha1", "mongodbs"
    body = {
        "apiVersion": f"{group}/{version}",
        "kind": "MongoDB",
        "metadata": {"name": "m"},
        "spec": {"members": 3},
        "status": {"state": "ignored"},
    }
    created = custom.create_namespaced_custom_object(group, version, ns, plural, body)
    assert "status" not in created
    custom.patch_namespaced_custom_object_status(
        group, version, ns, plural, "m", {"status": {"state": "Running"}, "spec": {"members": 9}}
    )
    patched = custom.patch_namespaced_custom_object(
        group, version, ns, plural, "m", {"spec": {"members": 5}, "status": {"state": "nope"}}
    )
    assert (patched["spec"]["members"], patched["status"]["state"]) == (5, "Running")
    assert patched["metadata"]["generation"] == 2
    listed = custom.list_namespaced_custom_object(group, version, ns, plural)
    assert [i["metadata"]["name"] for i in listed["items"]] == ["m"]
    resource = dynamic.DynamicClient(api).resources.get(api_version=f"{group}/{version}", kind="MongoDB")
    assert resource.namespaced and resource.get(name="m", namespace=ns).spec.members == 5
    ext.delete_custom_resource_definition(f"{plural}.{group}")

    def gone() -> bool:  # the CRD's resources are deleted first, then it goes (their own test)
        try:
            custom.get_namespaced_custom_object(group, version, ns, plural, "m")
        except ApiException as exc:
            return exc.status == 404
        return False

    wait_until(gone)


def test_leases_round_trip_micro_time(api: client.ApiClient, ns: str) -> None:
    """Leader-election style lease updates keep their MicroTime fields."""
    leases = client.CoordinationV1Api(api)
    now = datetime.now(UTC)
    lease = leases.create_namespaced_lease(
        ns,
        client.V1Lease(
            metadata=client.V1ObjectMeta(name="leader"), spec=client.V1LeaseSpec(holder_identity="a", renew_time=now)
        ),
    )
    lease.spec.holder_identity = "b"
    renewed = leases.replace_namespaced_lease("leader", ns, lease)
    assert renewed.spec.holder_identity == "b" and renewed.spec.renew_time == now


def test_finalizers_hold_a_deleted_object(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "held", "finalizers": ["fedstate.io/cleanup"]}})
    core.delete_namespaced_config_map("held", ns)
    held = core.read_namespaced_config_map("held", ns)
    assert held.metadata.deletion_timestamp is not None
    core.patch_namespaced_config_map("held", ns, [{"op": "remove", "path": "/metadata/finalizers"}])
    with pytest.raises(ApiException) as gone:
        core.read_namespaced_config_map("held", ns)
    assert gone.value.status == 404


def test_delete_collection_by_label(core: client.CoreV1Api, ns: str) -> None:
    for name, team in (("a", "x"), ("b", "x"), ("c", "y")):
        core.create_namespaced_config_map(ns, {"metadata": {"name": name, "labels": {"team": team}}})
    core.delete_collection_namespaced_config_map(ns, label_selector="team=x")
    assert [c.metadata.name for c in core.list_namespaced_config_map(ns, label_selector="team").items] == ["c"]


def test_deleting_a_namespace_deletes_its_objects(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "cm"}})
    core.delete_namespace(ns)
    wait_until(lambda: not core.list_namespaced_config_map(ns).items)
    with pytest.raises(ApiException) as gone:
        core.create_namespaced_config_map(ns, {"metadata": {"name": "cm"}})
    assert gone.value.status == 404


def test_failed_cluster_refuses_connections_and_recovers(world: ThreadedWorld, kubeconfig: Path) -> None:
    cluster = world.clusters["member-2"]
    other = config.new_client_from_config(str(kubeconfig), context="member-2")
    client.CoreV1Api(other).list_namespace()
    world.fail_cluster("member-2")
    with pytest.raises(ConnectionRefusedError), socket.create_connection((cluster.vip, cluster.port), timeout=2):
        pass
    world.recover_cluster("member-2")
    assert cluster.api_url == other.configuration.host
    assert "default" in {n.metadata.name for n in client.CoreV1Api(other).list_namespace().items}
    other.close()
