# The official client types every model field as Optional and its methods as taking models, while it accepts
# plain dict bodies at runtime.
# mypy: disable-error-code="arg-type, union-attr, index"
"""``metadata.generation`` exists where kube's registry keeps one (StatefulSets, CRDs, custom resources), not elsewhere."""

from __future__ import annotations

from kube_support import crd, mongod_statefulset, new_namespace
from kubernetes import client


def test_config_maps_secrets_namespaces_and_pods_carry_no_generation(sim_core: client.CoreV1Api) -> None:
    """Changing them changes the resourceVersion only."""
    ns = new_namespace(sim_core)
    made = sim_core.create_namespaced_config_map(ns, {"metadata": {"name": "cm"}, "data": {"k": "1"}})
    changed = sim_core.patch_namespaced_config_map("cm", ns, {"data": {"k": "2"}})
    secret = sim_core.create_namespaced_secret(ns, {"metadata": {"name": "s"}, "stringData": {"k": "1"}})
    pod = sim_core.create_namespaced_pod(
        ns, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    )
    namespace = sim_core.read_namespace(ns)
    assert [None] * 5 == [o.metadata.generation for o in (made, changed, secret, pod, namespace)]


def test_statefulsets_and_custom_resources_count_spec_changes(sim_api: client.ApiClient) -> None:
    """generation starts at 1 and grows with each spec change, not with metadata or status changes."""
    core, apps, custom = client.CoreV1Api(sim_api), client.AppsV1Api(sim_api), client.CustomObjectsApi(sim_api)
    ns = new_namespace(core)
    assert 1 == apps.create_namespaced_stateful_set(ns, mongod_statefulset("db")).metadata.generation
    assert 2 == apps.patch_namespaced_stateful_set("db", ns, {"spec": {"replicas": 2}}).metadata.generation
    assert 2 == apps.patch_namespaced_stateful_set("db", ns, {"metadata": {"labels": {"x": "y"}}}).metadata.generation
    crd_made = client.ApiextensionsV1Api(sim_api).create_custom_resource_definition(
        crd("gen.fedstate.io", "Thing", "things")
    )
    assert 1 == crd_made.metadata.generation
    args = ("gen.fedstate.io", "v1alpha1", ns, "things")
    body = {"apiVersion": "gen.fedstate.io/v1alpha1", "kind": "Thing", "metadata": {"name": "t"}, "spec": {"a": 1}}
    assert 1 == custom.create_namespaced_custom_object(*args, body)["metadata"]["generation"]
    assert 2 == custom.patch_namespaced_custom_object(*args, "t", {"spec": {"a": 2}})["metadata"]["generation"]
    assert 2 == custom.patch_namespaced_custom_object_status(*args, "t", {"status": {"s": 1}})["metadata"]["generation"]
