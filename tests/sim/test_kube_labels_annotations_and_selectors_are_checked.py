# The official client types its methods as taking models, while it accepts plain dict bodies at runtime.
# mypy: disable-error-code="arg-type, union-attr"
"""Label keys and values, annotation keys and ``labelSelector`` queries follow apimachinery's syntax, or are refused."""

from __future__ import annotations

import pytest
from kube_support import mongod_statefulset, new_namespace, refusal, refused_fields
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from fedstate_sim.kube import errors
from fedstate_sim.kube.label_syntax import parse_label_selector

LONG = "x" * 64


@pytest.fixture
def core(sim_core: client.CoreV1Api) -> client.CoreV1Api:
    return sim_core


@pytest.mark.parametrize(
    ("labels", "annotations"),
    [
        ({"bad key": "v"}, {}),
        ({"-starts-with-dash": "v"}, {}),
        ({LONG: "v"}, {}),
        ({"Upper.Case/name": "v"}, {}),
        ({"a/b/c": "v"}, {}),
        ({"/name": "v"}, {}),
        ({"app": "has space"}, {}),
        ({"app": "ends-"}, {}),
        ({"app": LONG}, {}),
        ({}, {"bad key": "any value"}),
        ({}, {"example.com/": "v"}),
        ({}, {"big": "x" * (256 * 1024)}),
    ],
)
def test_an_object_with_a_malformed_label_or_annotation_is_refused(
    core: client.CoreV1Api, labels: dict[str, str], annotations: dict[str, str]
) -> None:
    """422 Invalid on ``metadata.labels`` or ``metadata.annotations``, on create and on update."""
    ns = new_namespace(core)
    field = "metadata.labels" if labels else "metadata.annotations"
    body = {"metadata": {"name": "cm", "labels": labels, "annotations": annotations}}
    with pytest.raises(ApiException) as created:
        core.create_namespaced_config_map(ns, body)
    assert (422, "Invalid") == (created.value.status, refusal(created.value)["reason"])
    assert field in refused_fields(created.value)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "cm"}})
    with pytest.raises(ApiException) as patched:
        core.patch_namespaced_config_map("cm", ns, {"metadata": {"labels": labels, "annotations": annotations}})
    assert field in refused_fields(patched.value)


def test_well_formed_labels_and_free_annotation_values_are_accepted(core: client.CoreV1Api) -> None:
    """Prefixed keys, mixed case, dots and underscores, empty values; annotation values are free text."""
    ns = new_namespace(core)
    labels = {"app.kubernetes.io/name": "db", "Tier": "A_b.c-1", "empty": "", "x" * 63: "y" * 63}
    annotations = {"Example.COM/Note": "any text, even spaces: {json} " + LONG * 10}
    made = core.create_namespaced_config_map(
        ns, {"metadata": {"name": "ok", "labels": labels, "annotations": annotations}}
    )
    assert (labels, annotations) == (made.metadata.labels, made.metadata.annotations)


def test_a_pod_template_label_is_checked_too(sim_api: client.ApiClient) -> None:
    """A StatefulSet's template labels are validated where they are, not first when a Pod is made."""
    core, apps = client.CoreV1Api(sim_api), client.AppsV1Api(sim_api)
    ns = new_namespace(core)
    sts = mongod_statefulset("db")
    sts["spec"]["template"]["metadata"]["labels"]["bad key"] = "v"
    with pytest.raises(ApiException) as refused:
        apps.create_namespaced_stateful_set(ns, sts)
    assert ["spec.template.metadata.labels"] == refused_fields(refused.value)
    assert refusal(refused.value)["message"].startswith('StatefulSet.apps "db" is invalid: ')


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("app=(", "unable to parse requirement: found '(', expected: identifier"),
        ("app db", "unable to parse requirement: found 'db', expected: in, notin, =, ==, !=, gt, lt"),
        ("app=db,", "found '', expected: identifier after ','"),
        ("app=db x", "found 'x', expected: ',' or 'end of string'"),
        ("app in db", "unable to parse requirement: found 'db' expected: '('"),
        ("app in (db", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("bad@key=v", 'unable to parse requirement: <nil>: Invalid value: "bad@key": name part must consist of'),
        (f"app={LONG}", "unable to parse requirement: values[0][app]: Invalid value:"),
        ("rank>high", "unable to parse requirement: values[0]: Invalid value: \"high\": for 'Gt', 'Lt'"),
        ("=db", "found '=', expected: !, identifier, or 'end of string'"),
    ],
)
def test_a_malformed_label_selector_is_a_400(core: client.CoreV1Api, selector: str, message: str) -> None:
    """Lists and watches answer 400 BadRequest with apimachinery's words, never a silent empty list."""
    with pytest.raises(ApiException) as listed:
        core.list_namespaced_config_map("default", label_selector=selector)
    assert (400, "BadRequest") == (listed.value.status, refusal(listed.value)["reason"])
    assert refusal(listed.value)["message"].startswith(message)
    with pytest.raises(ApiException) as watched:
        next(iter(watch.Watch().stream(core.list_config_map_for_all_namespaces, label_selector=selector)))
    assert 400 == watched.value.status


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=db", {"a", "b"}),
        ("app==db,tier", {"a"}),
        ("app!=db", {"c"}),
        ("tier in (data,cache)", {"a"}),
        ("app notin (db)", {"c"}),
        ("!tier", {"b", "c"}),
        ("rank>1", {"b"}),
        ("rank<2", {"a"}),
        ("in in (in)", {"c"}),
        ("tier in (data, )", {"a"}),
        ("", {"a", "b", "c"}),
    ],
)
def test_every_selector_form_selects_as_on_a_real_cluster(selector: str, expected: set[str]) -> None:
    """``=``, ``==``, ``!=``, ``in``, ``notin``, exists, ``!``, ``>``, ``<``; ``in`` is a key or a value where one is expected."""
    labels = {
        "a": {"app": "db", "tier": "data", "rank": "1"},
        "b": {"app": "db", "rank": "5"},
        "c": {"app": "web", "in": "in", "rank": "x"},
    }
    chosen = parse_label_selector(selector)
    assert expected == {name for name, these in labels.items() if chosen.matches(these)}


def test_a_selector_value_may_be_empty_as_apimachinery_allows() -> None:
    """``app=`` and ``app in ()`` select the empty value, they are not errors."""
    assert parse_label_selector("app=").matches({"app": ""})
    assert parse_label_selector("app in ()").matches({"app": ""})
    with pytest.raises(errors.ApiError):
        parse_label_selector("app in (,")
