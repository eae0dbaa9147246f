# The official client types every model field as Optional and its methods as taking models, while it accepts
# plain dict bodies at runtime.
# mypy: disable-error-code="arg-type, union-attr, index"
"""Secret and ConfigMap payloads are decoded and checked as kube-apiserver decodes and checks them."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from kube_support import new_namespace, refusal, refused_fields
from kubernetes import client
from kubernetes.client.exceptions import ApiException


def test_secret_data_must_be_base64(sim_core: client.CoreV1Api) -> None:
    """Anything else cannot be decoded: 400 BadRequest, as the request is refused before it reaches storage."""
    ns = new_namespace(sim_core)
    with pytest.raises(ApiException) as refused:
        sim_core.create_namespaced_secret(ns, {"metadata": {"name": "s"}, "data": {"k": "not base64!"}})
    assert 400 == refused.value.status
    assert (
        'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 3'
        in (refusal(refused.value)["message"])
    )
    with pytest.raises(ApiException) as binary:
        sim_core.create_namespaced_config_map(ns, {"metadata": {"name": "c"}, "binaryData": {"k": "@@"}})
    assert 400 == binary.value.status


def test_string_data_is_folded_into_data_and_never_stored(sim_core: client.CoreV1Api) -> None:
    """``stringData`` wins over ``data`` for its keys, is base64-encoded into it, and is not read back."""
    ns = new_namespace(sim_core)
    body = {"metadata": {"name": "s"}, "data": {"a": "MQ==", "b": "Mg=="}, "stringData": {"b": "two", "c": "three"}}
    made = sim_core.create_namespaced_secret(ns, body)
    decoded = {k: base64.b64decode(v).decode() for k, v in made.data.items()}
    assert ({"a": "1", "b": "two", "c": "three"}, None, "Opaque") == (decoded, made.string_data, made.type)
    patched = sim_core.patch_namespaced_secret("s", ns, {"stringData": {"a": "uno"}})
    assert "uno" == base64.b64decode(patched.data["a"]).decode()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"data": {"bad key": "MQ=="}}, "data[bad key]"),
        ({"type": "kubernetes.io/dockerconfigjson", "data": {}}, "data[.dockerconfigjson]"),
        (
            {"type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": "bm90IGpzb24="}},
            "data[.dockerconfigjson]",
        ),
    ],
)
def test_malformed_secret_content_is_422(sim_core: client.CoreV1Api, body: dict[str, Any], field: str) -> None:
    """Keys are config keys; a docker config Secret carries JSON under ``.dockerconfigjson``."""
    ns = new_namespace(sim_core)
    with pytest.raises(ApiException) as refused:
        sim_core.create_namespaced_secret(ns, {"metadata": {"name": "s"}, **body})
    assert (422, [field]) == (refused.value.status, refused_fields(refused.value))


def test_a_secret_keeps_its_type_and_a_config_map_its_key_syntax(sim_core: client.CoreV1Api) -> None:
    """``type`` is immutable; a ConfigMap key with a space is refused."""
    ns = new_namespace(sim_core)
    sim_core.create_namespaced_secret(ns, {"metadata": {"name": "s"}, "data": {"k": "MQ=="}})
    with pytest.raises(ApiException) as retyped:
        sim_core.patch_namespaced_secret("s", ns, {"type": "kubernetes.io/tls"})
    assert (422, ["type"]) == (retyped.value.status, refused_fields(retyped.value))
    with pytest.raises(ApiException) as key:
        sim_core.create_namespaced_config_map(ns, {"metadata": {"name": "c"}, "data": {"a/b": "v"}})
    assert ["data[a/b]"] == refused_fields(key.value)
