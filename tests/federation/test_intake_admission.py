"""Intake admits valid objects with server-owned metadata and refuses bad ones by field path."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from fedstate.bus.intake import IntakeRequest
from fedstate.bus.validation import image_of
from fedstate_federation.domain.admission import FINALIZER, Refused, admit, mark_deleting, validate
from tests.conftest import REFERENCE, example
from tests.dns_labels import BAD_NAMES

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def sample() -> dict[str, Any]:
    return example("MultiCloudMongoDB")


def test_a_new_object_gets_a_uid_generation_one_and_the_finalizer() -> None:
    stored = admit(validate(IntakeRequest(op="apply", object=sample())), None, NOW)
    assert (1, [FINALIZER]) == (stored.metadata.generation, stored.metadata.finalizers)
    assert stored.metadata.uid


def test_only_a_spec_change_bumps_the_generation() -> None:
    first = admit(validate(IntakeRequest(op="apply", object=sample())), None, NOW)
    same = admit(validate(IntakeRequest(op="apply", object=sample())), first, NOW)
    changed_sample = sample()
    changed_sample["spec"]["replicaset"] = 7  # type: ignore[index]
    changed = admit(validate(IntakeRequest(op="apply", object=changed_sample)), first, NOW)
    assert (1, 2) == (same.metadata.generation, changed.metadata.generation)
    assert first.metadata.uid == changed.metadata.uid


def test_an_invalid_object_is_refused_with_every_field_path() -> None:
    bad = sample()
    bad["spec"]["resource"]["limits"]["cpu"] = "2x"  # type: ignore[index]
    bad["spec"]["replicaset"] = 0  # type: ignore[index]
    with pytest.raises(Refused) as caught:
        validate(IntakeRequest(op="apply", object=bad))
    fields = {c.field for c in caught.value.error.causes}
    assert {"spec.resource.limits.cpu", "spec.replicaset"} == fields
    assert 422 == caught.value.error.code


def test_an_object_being_deleted_cannot_be_applied_again() -> None:
    first = admit(validate(IntakeRequest(op="apply", object=sample())), None, NOW)
    with pytest.raises(Refused, match="being deleted"):
        admit(validate(IntakeRequest(op="apply", object=sample())), mark_deleting(first, NOW), NOW)


def test_a_single_cluster_mongodb_must_name_its_cluster() -> None:
    mongodb = example("MongoDB")
    with pytest.raises(Refused, match="one member cluster"):
        validate(IntakeRequest(op="apply", object=mongodb))
    assert "member-1" == validate(IntakeRequest(op="apply", object=mongodb, targetCluster="member-1")).target_cluster


@pytest.mark.parametrize(
    ("kind", "field"), [("MultiCloudMongoDB", "spec.imageSetting.image"), ("MongoDB", "spec.image")]
)
def test_the_seed_samples_mongo_3_6_is_refused_naming_the_field(kind: str, field: str) -> None:
    """The seed's mongo:3.6 would deploy members no agent can connect to (pymongo refuses servers before 4.4):
    refused before anything is stored, with the field and the releases that work."""
    seed = yaml.safe_load((REFERENCE / f"{kind.lower()}-sample.yaml").read_text())
    with pytest.raises(Refused) as refused:
        validate(IntakeRequest(op="apply", object=seed, target_cluster="member-1"))
    assert (422, [field]) == (refused.value.error.code, [c.field for c in refused.value.error.causes])
    assert "mongo:3.6 runs MongoDB 3.6" in refused.value.error.message
    assert "MongoDB 4.4 and later" in refused.value.error.message
    assert "mongo:6.0" == image_of(validate(IntakeRequest(op="apply", object=example(kind), target_cluster="member-1")))


def test_a_downgrade_across_major_versions_is_refused_at_intake() -> None:
    """Going back from 7.0 to 6.0 names the field and says why."""
    upgraded = sample()
    upgraded["spec"]["imageSetting"]["image"] = "mongo:7.0"  # type: ignore[index]
    first = admit(validate(IntakeRequest(op="apply", object=upgraded)), None, NOW)
    downgraded = sample()
    downgraded["spec"]["imageSetting"]["image"] = "mongo:6.0"  # type: ignore[index]
    with pytest.raises(Refused) as refused:
        admit(validate(IntakeRequest(op="apply", object=downgraded)), first, NOW)
    assert 422 == refused.value.error.code
    assert "spec.imageSetting.image" == refused.value.error.causes[0].field
    assert "featureCompatibilityVersion" in refused.value.error.message


def test_a_mongodb_keeps_its_target_cluster() -> None:
    """A single-cluster MongoDB cannot move: its members and volumes live in one cluster."""
    body = {"apiVersion": "middleware.fedstate.io/v1alpha1", "kind": "MongoDB", "metadata": {"name": "one"}}
    first = admit(validate(IntakeRequest(op="apply", object=body, target_cluster="member-1")), None, NOW)
    with pytest.raises(Refused) as refused:
        admit(validate(IntakeRequest(op="apply", object=body, target_cluster="member-2")), first, NOW)
    assert "targetCluster" == refused.value.error.causes[0].field


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_name_or_namespace_that_is_not_a_dns_1123_label_is_refused_with_its_field(name: str) -> None:
    """A bad name or namespace is a 422 that names metadata.name or metadata.namespace."""
    for field in ("name", "namespace"):
        bad = sample()
        bad["metadata"] = {"name": "ok", field: name}
        with pytest.raises(Refused) as refused:
            validate(IntakeRequest(op="apply", object=bad))
        assert (422, [f"metadata.{field}"]) == (refused.value.error.code, [c.field for c in refused.value.error.causes])
