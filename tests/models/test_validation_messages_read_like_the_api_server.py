"""Validation errors name the camelCase field path and say what was expected and what came, as kubectl shows them."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from fedstate.models.errors import describe, field_errors
from fedstate.models.mongodb import MongoDB
from fedstate.models.multicloud import MultiCloudMongoDB


def refusal(spec: dict[str, Any], model: type[BaseModel] = MultiCloudMongoDB) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate({"metadata": {"name": "x"}, "spec": spec})
    return {e.field: e.message for e in field_errors(caught.value, model)}


def test_a_wrong_type_says_what_was_expected_and_what_came() -> None:
    assert {
        "spec.export": "expected an object, got boolean true",
        "spec.replicaset": 'expected an integer, got string "3"',
        "spec.storage.adoptRetainedVolumes": 'expected a boolean, got string "true"',
        "spec.scheduler.tolerations": 'expected a list, got string "none"',
    } == refusal(
        {
            "export": True,
            "replicaset": "3",
            "storage": {"adoptRetainedVolumes": "true"},
            "scheduler": {"tolerations": "none"},
        }
    )


def test_an_unknown_field_suggests_the_close_name_at_its_place() -> None:
    assert {
        "spec.replicaSet": "unknown field; did you mean spec.replicaset?",
        "spec.imageSetting.imagePullPolicyy": "unknown field; did you mean spec.imageSetting.imagePullPolicy?",
        "spec.zzz": "unknown field",
        "spec.state": "unknown field",
        "spec.stroage": "unknown field; did you mean spec.storage?",
    } == refusal(
        {"replicaSet": 3, "imageSetting": {"imagePullPolicyy": "Always"}, "zzz": 1, "state": "x", "stroage": {}}
    )


def test_a_misspelt_top_level_field_suggests_spec() -> None:
    with pytest.raises(ValidationError) as caught:
        MultiCloudMongoDB.model_validate({"metadata": {"name": "x"}, "spce": {}})
    assert "spce: unknown field; did you mean spec?" == describe(caught.value, MultiCloudMongoDB)


def test_union_fields_are_named_without_pydantic_branch_labels() -> None:
    assert {"spec.imageSetting.imagePullSecret": "expected a string or an object, got integer 5"} == refusal(
        {"imageSetting": {"imagePullSecret": 5}}
    )
    assert {"spec.imageSetting.imagePullSecret.password": "required"} == refusal(
        {"imageSetting": {"imagePullSecret": {"username": "u"}}}
    )


def test_bounds_and_choices_are_stated_with_the_value_given() -> None:
    assert {
        "spec.replicaset": "must be greater than or equal to 1, got 0",
        "spec.storage.retentionPolicy": 'unsupported value "Keep"; supported values: "Retain", "Delete"',
        "spec.scheduler.weights[0].weight": "must be greater than or equal to 0, got -1",
    } == refusal({"replicaset": 0, "storage": {"retentionPolicy": "Keep"}, "scheduler": {"weights": [{"weight": -1}]}})


def test_no_pydantic_wording_reaches_the_user() -> None:
    messages = refusal({"export": "yes", "replicaSet": 3, "failover": {"forceReconfig": 1}, "members": 3})
    assert not [m for m in messages.values() if "Input should" in m or "Extra inputs" in m], messages


@pytest.mark.parametrize(
    ("spec", "field", "message"),
    [
        ({"replicaset": "3"}, "spec.replicaset", 'expected an integer, got string "3"'),
        ({"replicaset": True}, "spec.replicaset", "expected an integer, got boolean true"),
        ({"replicaset": 3.0}, "spec.replicaset", "expected an integer, got number 3.0"),
        ({"export": {"enable": "true"}}, "spec.export.enable", 'expected a boolean, got string "true"'),
        ({"export": {"enable": 1}}, "spec.export.enable", "expected a boolean, got integer 1"),
        ({"config": {"arbiter": "yes"}}, "spec.config.arbiter", 'expected a boolean, got string "yes"'),
        (
            {"failover": {"forceReconfig": "false"}},
            "spec.failover.forceReconfig",
            'expected a boolean, got string "false"',
        ),
        (
            {"spreadConstraints": {"spreadConstraints": [{"spreadByField": "zone", "minGroups": "2"}]}},
            "spec.spreadConstraints.spreadConstraints[0].minGroups",
            'expected an integer, got string "2"',
        ),
    ],
)
def test_integers_and_booleans_are_not_read_from_strings(spec: dict[str, Any], field: str, message: str) -> None:
    assert message == refusal(spec)[field]


def test_a_single_cluster_mongodb_counts_its_members_as_an_integer() -> None:
    assert {"spec.members": 'expected an integer, got string "3"'} == refusal({"members": "3"}, MongoDB)
    assert {"spec.metricsExporterSpec.enable": 'expected a boolean, got string "no"'} == refusal(
        {"metricsExporterSpec": {"enable": "no"}}, MongoDB
    )


def test_integers_and_booleans_written_in_yaml_or_json_are_accepted() -> None:
    spec = {"replicaset": 5, "export": {"enable": True}, "failover": {"forceReconfig": False}}
    assert 5 == MultiCloudMongoDB.model_validate({"metadata": {"name": "x"}, "spec": spec}).spec.replicaset
    json_text = '{"metadata": {"name": "x"}, "spec": {"replicaset": 5, "export": {"enable": true}}}'
    assert MultiCloudMongoDB.model_validate_json(json_text).spec.export.enable
