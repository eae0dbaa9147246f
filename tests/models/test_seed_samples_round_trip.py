"""The seed samples load, survive a YAML/JSON round trip, and bad input names its field path."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from fedstate.models.errors import describe
from fedstate.models.mongodb import MongoDB
from fedstate.models.multicloud import MultiCloudMongoDB, SchedulerMode
from tests.conftest import REFERENCE


def load(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((REFERENCE / name).read_text()))


def test_the_multicloud_seed_sample_round_trips() -> None:
    sample = load("multicloudmongodb-sample.yaml")
    model = MultiCloudMongoDB.model_validate(sample)
    again = MultiCloudMongoDB.model_validate(yaml.safe_load(yaml.safe_dump(model.to_wire())))
    assert model == again
    assert 5 == again.spec.replicaset
    assert "my-image-secret" == again.spec.image_setting.image_pull_secret
    assert {"deploy": "mongo"} == again.spec.spread_constraints.node_select


def test_the_single_cluster_seed_sample_round_trips_with_pull_credentials() -> None:
    model = MongoDB.model_validate(load("mongodb-sample.yaml"))
    again = MongoDB.model_validate_json(model.model_dump_json(by_alias=True))
    assert model == again
    assert "admin" == again.spec.image_pull_secret.username  # type: ignore[union-attr]


def test_the_status_example_has_our_status_shape() -> None:
    sample = load("multicloudmongodb-sample.yaml") | load("status-example.yaml")
    model = MultiCloudMongoDB.model_validate(sample)
    assert model.status is not None
    assert "Health" == model.status.state
    assert "PRIMARY" == model.status.result[0].connect_addr_with_role["10.29.5.103:38640"]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("spec", "resource", "limits", "cpu"), "2x", "spec.resource.limits.cpu: '2x' is not a Kubernetes quantity"),
        (("spec", "replicaset"), 51, "spec.replicaset: must be less than or equal to 50, got 51"),
        (("metadata", "name"), "Bad.Name", "metadata.name: 'Bad.Name' is not a DNS-1123 label"),
        (
            ("spec", "scheduler", "schedulerMode"),
            "Random",
            'spec.scheduler.schedulerMode: unsupported value "Random"; supported values: "Uniform", "Weighted"',
        ),
    ],
)
def test_bad_input_is_refused_with_its_field_path(path: tuple[str, ...], value: object, message: str) -> None:
    sample = copy.deepcopy(load("multicloudmongodb-sample.yaml"))
    target = sample
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    with pytest.raises(ValidationError) as caught:
        MultiCloudMongoDB.model_validate(sample)
    assert describe(caught.value).startswith(message)


def test_fedstate_weighting_is_read_as_weighted() -> None:
    sample = load("multicloudmongodb-sample.yaml")
    sample["spec"]["scheduler"]["schedulerMode"] = "Weighting"
    assert SchedulerMode.WEIGHTED == MultiCloudMongoDB.model_validate(sample).spec.scheduler.scheduler_mode
