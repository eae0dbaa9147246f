"""``get -o yaml``, ``get -o json`` and ``describe`` show every secret field of an object as the redaction
marker, never its value, for both kinds."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from fedstate.models.redaction import REDACTED
from tests.secret_fields import SPECS, secret_paths, spec_with_every_secret, value_at


@pytest.mark.parametrize("kind", SPECS)
def test_every_secret_field_prints_as_the_marker(cli: Callable[..., Any], name: str, kind: str) -> None:
    document = {"apiVersion": "middleware.fedstate.io/v1alpha1", "kind": kind, "metadata": {"name": name}}
    manifest = yaml.safe_dump({**document, "spec": spec_with_every_secret(kind)})
    target = ["--cluster", "member-2"] if kind == "MongoDB" else []
    applied = cli("apply", "-f", "-", *target, input=manifest)
    assert 0 == applied.exit_code, applied.output
    as_yaml = cli("get", kind.lower(), name, "-o", "yaml")
    as_json = cli("get", kind.lower(), name, "-o", "json")
    described = cli("describe", kind.lower(), name)
    for spec in (yaml.safe_load(as_yaml.stdout)["spec"], json.loads(as_json.stdout)["spec"]):
        assert {REDACTED} == {value_at(spec, path) for path in secret_paths(kind)}
    printed = [applied, as_yaml, as_json, described]
    assert [0] * 4 == [result.exit_code for result in printed]
    assert [] == [result.output for result in printed if "s3cret" in result.output]
