"""Label keys and values are checked as a Kubernetes API server checks them, with errors that say why."""

from __future__ import annotations

import pytest

from fedstate.models.labels import check_labels, label_key_errors, label_value_errors, parse_labels


@pytest.mark.parametrize(
    "key", ["region", "topology.kubernetes.io/region", "a", "A_b.c-1", "cluster.clusterset.k8s.io", "x" * 63]
)
def test_valid_keys_pass(key: str) -> None:
    """Names with an optional DNS subdomain prefix are keys."""
    assert [] == label_key_errors(key)


@pytest.mark.parametrize(
    ("key", "error"),
    [
        ("", "must be non-empty"),
        ("x" * 64, "no more than 63 characters"),
        ("-edge", "must start and end with an alphanumeric character"),
        ("edge-", "must start and end with an alphanumeric character"),
        ("has space", "must consist of alphanumeric characters"),
        ("Example.com/name", "lowercase RFC 1123 subdomain"),
        ("/name", "prefix part must be non-empty"),
        ("example.com/", "name part must be non-empty"),
        ("a/b/c", "optional DNS subdomain prefix"),
        ("x" * 254 + "/name", "no more than 253 characters"),
    ],
)
def test_invalid_keys_say_what_is_wrong(key: str, error: str) -> None:
    """Each broken rule has its own message."""
    assert error in " ".join(label_key_errors(key))


@pytest.mark.parametrize(("value", "valid"), [("", True), ("eu-west_1.a", True), ("a b", False), ("x" * 64, False)])
def test_values_are_empty_or_short_names(value: str, valid: bool) -> None:
    """A value is empty or up to 63 characters of the name alphabet."""
    assert valid == (not label_value_errors(value))


def test_the_kubectl_form_is_parsed_and_every_error_is_listed() -> None:
    """``k=v,k=v`` gives a mapping; a bad item, key or value is named in the error."""
    assert {"region": "eu", "tier": ""} == parse_labels(" region=eu , tier= ,")
    with pytest.raises(ValueError, match='"region" is not a label: expected key=value'):
        parse_labels("region")
    with pytest.raises(ValueError, match=r'invalid label key "bad key".*invalid label value "a b" of ok'):
        check_labels({"bad key": "x", "ok": "a b"})
