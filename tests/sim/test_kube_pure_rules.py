"""The simulator's pure rules: selectors, patches, the watch window, scheduling verdicts, member plans."""

from __future__ import annotations

import pytest

from fedstate.mergepatch import merge_patch
from fedstate_sim.kube import errors
from fedstate_sim.kube.admission import validate_name
from fedstate_sim.kube.controllers.member_plan import Security, desired_members, repl_set, security
from fedstate_sim.kube.controllers.scheduling import NodeInfo, choose_node
from fedstate_sim.kube.controllers.statefulset_plan import next_step, revision
from fedstate_sim.kube.history import ADDED, Change, EventLog
from fedstate_sim.kube.label_syntax import parse_label_selector
from fedstate_sim.kube.patch import json_patch, strategic_merge_patch
from fedstate_sim.kube.resources import CONFIGMAPS, NAMESPACES, ResourceType
from fedstate_sim.kube.selectors import parse_field_selector


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("app=db", True),
        ("app==db", True),
        ("app!=db", False),
        ("tier in (data, cache)", True),
        ("tier notin (data,cache)", False),
        ("app,!missing", True),
        ("missing", False),
        ("app=db,tier in (web)", False),
    ],
)
def test_label_selector_syntax(selector: str, matches: bool) -> None:
    """Every operator of the query-string syntax is understood."""
    assert parse_label_selector(selector).matches({"app": "db", "tier": "data"}) == matches


def test_field_selector_reads_dotted_paths() -> None:
    """Field selectors follow any dotted path, with = and !=."""
    pod = {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"nodeName": "n1"}}
    assert parse_field_selector("metadata.name=p,metadata.namespace!=other").matches(pod)
    assert not parse_field_selector("spec.nodeName=n2").matches(pod)


def test_strategic_merge_merges_containers_by_name() -> None:
    """Containers and env merge item by item; plain fields follow merge-patch rules."""
    target = {
        "spec": {
            "containers": [
                {"name": "a", "image": "x:1", "env": [{"name": "K", "value": "1"}]},
                {"name": "b", "image": "y:1"},
            ],
            "tolerations": [{"key": "t"}],
        }
    }
    patch = {
        "spec": {"containers": [{"name": "a", "image": "x:2", "env": [{"name": "J", "value": "2"}]}], "tolerations": []}
    }
    merged = strategic_merge_patch(target, patch)
    assert [c["image"] for c in merged["spec"]["containers"]] == ["x:2", "y:1"]
    assert merged["spec"]["containers"][0]["env"] == [{"name": "K", "value": "1"}, {"name": "J", "value": "2"}]
    assert merged["spec"]["tolerations"] == []


def test_strategic_merge_delete_directive() -> None:
    """``$patch: delete`` removes one list item."""
    target = {"containers": [{"name": "a"}, {"name": "b"}]}
    assert strategic_merge_patch(target, {"containers": [{"name": "a", "$patch": "delete"}]}) == {
        "containers": [{"name": "b"}]
    }


def test_merge_patch_replaces_lists_and_null_deletes() -> None:
    target = {"a": [1, 2], "b": {"c": 1, "d": 2}}
    assert merge_patch(target, {"a": [3], "b": {"c": None}}) == {"a": [3], "b": {"d": 2}}


def test_json_patch_operations() -> None:
    doc = {"spec": {"replicas": 1, "list": [1, 2]}}
    ops = [
        {"op": "replace", "path": "/spec/replicas", "value": 3},
        {"op": "add", "path": "/spec/list/-", "value": 9},
        {"op": "remove", "path": "/spec/list/0"},
        {"op": "test", "path": "/spec/replicas", "value": 3},
    ]
    assert json_patch(doc, ops) == {"spec": {"replicas": 3, "list": [2, 9]}}
    with pytest.raises(errors.ApiError) as failed:
        json_patch(doc, [{"op": "test", "path": "/spec/replicas", "value": 7}])
    assert failed.value.code == 422


def test_event_log_expires_old_versions() -> None:
    """Resuming inside the window works; before it is 410 Expired, like the watch cache."""
    log = EventLog(capacity=3)
    for rv in range(1, 6):
        log.append(Change(rv, ADDED, "pods", {"metadata": {"name": f"p{rv}"}}, None))
    assert [c.rv for c in log.since(2, "pods")] == [3, 4, 5]
    with pytest.raises(errors.ApiError) as gone:
        log.since(1, "pods")
    assert (gone.value.code, gone.value.reason) == (410, "Expired")
    assert "fedstate simulator" in gone.value.message


def _node(name: str, cpu: str, taints: list[dict[str, str]] | None = None) -> NodeInfo:
    return NodeInfo.of(
        {
            "metadata": {"name": name, "labels": {"zone": "a"}},
            "spec": {"taints": taints or []},
            "status": {"allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "10"}},
        }
    )


def _pod(cpu: str, **spec: object) -> dict[str, object]:
    return {"spec": {"containers": [{"name": "c", "image": "i", "resources": {"requests": {"cpu": cpu}}}], **spec}}


def test_scheduler_picks_the_least_allocated_fitting_node() -> None:
    nodes = [_node("n1", "2"), _node("n2", "4")]
    assert choose_node(_pod("1"), nodes).node == "n2"


def test_scheduler_explains_why_nothing_fits() -> None:
    """The verdict adds up the reasons per node like kube-scheduler."""
    nodes = [
        _node("n1", "2"),
        _node("n2", "2"),
        _node("n3", "16", [{"key": "gpu", "value": "x", "effect": "NoSchedule"}]),
    ]
    verdict = choose_node(_pod("4"), nodes)
    assert verdict.node is None
    assert verdict.message == "0/3 nodes are available: 2 Insufficient cpu, 1 node(s) had untolerated taint {gpu: x}."


def test_scheduler_honours_tolerations_and_affinity() -> None:
    nodes = [_node("n1", "2", [{"key": "gpu", "value": "x", "effect": "NoSchedule"}])]
    toleration = [{"key": "gpu", "operator": "Exists"}]
    affinity = {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]
            }
        }
    }
    assert choose_node(_pod("1", tolerations=toleration, affinity=affinity), nodes).node == "n1"
    assert choose_node(_pod("1", tolerations=toleration, nodeSelector={"zone": "b"}), nodes).node is None


def _sts(replicas: int, image: str = "mongo:6") -> dict[str, object]:
    return {
        "metadata": {"name": "db", "generation": 1},
        "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "m", "image": image}]}}},
    }


def _ready_pod(rev: str) -> dict[str, object]:
    return {
        "metadata": {"labels": {"controller-revision-hash": rev}},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }


def test_statefulset_steps_are_ordered() -> None:
    """Create the lowest missing ordinal once its predecessors are Ready; roll the highest first."""
    sts = _sts(3)
    assert next_step(sts, {}).ordinals == (0,)
    assert next_step(sts, {0: {"status": {}}}).action == "none"
    rolled = _sts(3, "mongo:7")
    old = revision(sts)
    assert next_step(rolled, {o: _ready_pod(old) for o in range(3)}).ordinals == (2,)
    assert next_step(_sts(1), {o: _ready_pod(old) for o in range(3)}).ordinals == (2,)


def test_member_plan_needs_a_mongod_pod_behind_a_node_port() -> None:
    pod = {
        "metadata": {"name": "db-0", "namespace": "ns", "uid": "u", "labels": {"pod": "db-0"}},
        "spec": {
            "containers": [
                {
                    "name": "m",
                    "image": "mongo:7.0",
                    "args": ["--replSet=rsx"],
                    "command": ["mongod"],
                    "ports": [{"containerPort": 27017}],
                }
            ],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data-db-0"}}],
        },
    }
    service = {
        "spec": {
            "type": "NodePort",
            "selector": {"pod": "db-0"},
            "ports": [{"port": 27017, "targetPort": 27017, "nodePort": 31000}],
        }
    }
    desired = desired_members("c1", "127.0.1.1", [service], [pod])
    launch, uid = desired[("127.0.1.1", 31000)]
    assert (launch.repl_set, launch.data_key, launch.pod, launch.image, uid) == (
        "rsx",
        "c1/ns/data-db-0",
        "ns/db-0",
        "mongo:7.0",
        "u",
    )
    cluster_ip = {"spec": {**service["spec"], "type": "ClusterIP"}}
    assert desired_members("c1", "127.0.1.1", [cluster_ip], [pod]) == {}


def test_repl_set_through_a_shell_and_default() -> None:
    assert repl_set({"command": ["sh", "-c", "exec mongod --replSet rs9 --port 27017"]}) == "rs9"
    assert repl_set({"command": ["mongod"]}) == "rs0"


FILES = {
    "/auth/key": "abc DEF+/=\n123\n",
    "/auth/url-safe": "abc-def_ghi",
    "/auth/short": "abc",
    "/conf/keyed.yaml": "security:\n  keyFile: /auth/key\n",
    "/conf/auth.yaml": "security:\n  authorization: enabled\n",
}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--replSet", "rs0"], Security()),
        (["--keyFile", "/auth/key"], Security(key_file="abcDEF+/=123", authorization=True)),
        (["--keyFile=/auth/key"], Security(key_file="abcDEF+/=123", authorization=True)),
        (["--config", "/conf/keyed.yaml"], Security(key_file="abcDEF+/=123", authorization=True)),
        (["-f", "/conf/auth.yaml"], Security(authorization=True)),
        (["--auth"], Security(authorization=True)),
        (["--keyFile", "/auth/url-safe"], Security(error="invalid char in key file /auth/url-safe: -")),
        (
            ["--keyFile", "/auth/short"],
            Security(error="security key in /auth/short has length 3, must be between 6 and 1024 chars"),
        ),
        (["--keyFile", "/auth/none"], Security(error="Error reading file /auth/none: No such file or directory")),
    ],
)
def test_mongod_access_control_follows_its_command_line_and_config_file(args: list[str], expected: Security) -> None:
    """keyFile (whitespace ignored, base64 characters, 6-1024 long) and --auth, from flags or the config file."""
    assert expected == security({"command": ["mongod", *args]}, FILES.get)


@pytest.mark.parametrize(
    ("name", "namespace_ok", "configmap_ok"),
    [
        ("ok", True, True),
        ("a.b", False, True),
        ("bad_name", False, False),
        ("trailing-", False, False),
        ("trailing\n", False, False),
        ("a.b\n", False, False),
    ],
)
def test_names_are_rfc_1123_labels_or_subdomains_in_full(name: str, namespace_ok: bool, configmap_ok: bool) -> None:
    """A namespace is a label, a ConfigMap a subdomain, as the API server checks them: to the last character."""

    def accepted(rtype: ResourceType) -> bool:
        try:
            validate_name(rtype, name)
        except errors.ApiError as refused:
            assert 422 == refused.code
            return False
        return True

    assert (namespace_ok, configmap_ok) == (accepted(NAMESPACES), accepted(CONFIGMAPS))
