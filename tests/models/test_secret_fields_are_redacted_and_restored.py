"""Secret spec fields: ``redact`` hides each one that holds a value, ``restore`` puts the stored value back."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedstate.models.redaction import REDACTED, SECRET_PATHS, RedactedWithoutValue, redact, restore
from tests.secret_fields import SPECS, secret_paths, spec_with_every_secret, value_at

PASSWORDS = st.none() | st.text(min_size=1, max_size=8)


@st.composite
def mcm_specs(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {"replicaset": draw(st.integers(1, 9))}
    if (root := draw(PASSWORDS)) is not None:
        spec["auth"] = {"rootPasswd": root}
    pull = draw(st.sampled_from(["none", "name", "credentials"]))
    if pull == "name":
        spec["imageSetting"] = {"imagePullSecret": "my-secret"}
    if pull == "credentials":
        spec["imageSetting"] = {"imagePullSecret": {"username": "u", "password": draw(st.text(min_size=1))}}
    return spec


@given(mcm_specs())
def test_reading_back_and_applying_again_gives_the_stored_spec(spec: dict[str, Any]) -> None:
    before = copy.deepcopy(spec)
    shown = redact("MultiCloudMongoDB", spec)
    assert before == spec, "redact leaves the stored spec alone"
    for path in SECRET_PATHS["MultiCloudMongoDB"]:
        node: Any = shown
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        assert node in (None, REDACTED)
    assert spec == restore("MultiCloudMongoDB", shown, spec)


def test_a_pull_secret_name_is_shown_and_a_password_is_not() -> None:
    shown = redact("MongoDB", {"imagePullSecret": "registry-creds", "rootPassword": "x"})
    assert {"imagePullSecret": "registry-creds", "rootPassword": REDACTED} == shown


def test_the_marker_without_a_stored_value_names_the_field() -> None:
    with pytest.raises(RedactedWithoutValue, match=r"spec\.auth\.rootPasswd"):
        restore("MultiCloudMongoDB", {"auth": {"rootPasswd": REDACTED}}, {"replicaset": 3})
    with pytest.raises(RedactedWithoutValue, match=r"spec\.rootPassword"):
        restore("MongoDB", {"rootPassword": REDACTED}, None)


@pytest.mark.parametrize("kind", SPECS)
def test_every_secret_field_of_a_kind_has_a_redaction_rule(kind: str) -> None:
    """The fields whose names say password, passwd or token, found in the model, are the redacted ones."""
    assert secret_paths(kind) == set(SECRET_PATHS[kind])


@pytest.mark.parametrize("kind", SPECS)
def test_a_spec_read_back_shows_the_marker_in_every_secret_field(kind: str) -> None:
    shown = redact(kind, spec_with_every_secret(kind))
    assert {REDACTED} == {value_at(shown, path) for path in secret_paths(kind)}
    assert "s3cret" not in json.dumps(shown)
