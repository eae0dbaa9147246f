"""A name or namespace is a DNS-1123 label: lowercase letters, digits and '-', at most 63, alphanumeric at
both ends; anything else is refused with its field path."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import ValidationError

from fedstate.models.errors import field_errors
from fedstate.models.multicloud import MultiCloudMongoDB
from tests.dns_labels import BAD_NAMES, GOOD_NAMES, is_label


def accepted(name: str = "ok", namespace: str = "default") -> bool:
    wire = {"apiVersion": "middleware.fedstate.io/v1alpha1", "kind": "MultiCloudMongoDB"}
    try:
        MultiCloudMongoDB.model_validate({**wire, "metadata": {"name": name, "namespace": namespace}})
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_bad_name_is_refused_with_its_field_path(name: str) -> None:
    wire = {"apiVersion": "middleware.fedstate.io/v1alpha1", "kind": "MultiCloudMongoDB", "metadata": {"name": name}}
    with pytest.raises(ValidationError) as refused:
        MultiCloudMongoDB.model_validate(wire)
    assert ["metadata.name"] == [error.field for error in field_errors(refused.value)]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_bad_namespace_is_refused(name: str) -> None:
    assert not accepted(namespace=name)


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_a_good_name_and_namespace_are_accepted(name: str) -> None:
    assert accepted(name=name, namespace=name)


@given(
    st.text(alphabet="ab09-._A \n", max_size=66) | st.from_regex(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", fullmatch=True)
)
@example("x\n")
@example("a" * 63)
@example("a" * 64)
def test_a_name_is_accepted_exactly_when_it_is_a_label(name: str) -> None:
    """For any string: accepted as a name exactly when it is a DNS-1123 label."""
    assert is_label(name) == accepted(name=name)
