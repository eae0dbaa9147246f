"""The bridge's decisions, without I/O: what it submits for a custom resource, and whether the federation already
holds that generation (what keeps a restart from submitting anything twice)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedstate.api.resources import MONGODB, MULTICLOUD_MONGODB
from fedstate.bus.intake import IntakeRequest
from fedstate.bus.validation import Refused, validate
from fedstate.models.base import utcnow
from fedstate_crdbridge.bridged import CustomResource, is_bridged, needs_submitting, submission
from tests.crdbridge.bridge_support import sample

names = st.from_regex(r"[a-z]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)


def custom_resource(generation: int, uid: str, name: str = "rs", replicaset: int = 3) -> CustomResource:
    body: dict[str, Any] = sample()
    body["metadata"].update(
        name=name,
        namespace="team-a",
        generation=generation,
        uid=uid,
        resourceVersion="4711",
        creationTimestamp="2026-01-01T00:00:00Z",
        finalizers=["fedstate.io/crd-bridge"],
        managedFields=[{"manager": "kubectl"}],
    )
    body["spec"]["replicaset"] = replicaset
    body["status"] = {"state": "Health"}
    return CustomResource(MULTICLOUD_MONGODB, body)


def stored_from(cr: CustomResource) -> Any:
    """What the intake stores for the bridge's submission (validation as the intake's, then a new object)."""
    return validate(IntakeRequest(op="apply", object=submission(cr)))


@given(st.integers(1, 10_000), st.uuids().map(str), names, st.integers(1, 50))
def test_a_generation_held_is_never_submitted_again_and_any_other_is(
    generation: int, uid: str, name: str, replicaset: int
) -> None:
    cr = custom_resource(generation, uid, name, replicaset)
    stored = stored_from(cr)
    assert not needs_submitting(cr, stored)
    assert needs_submitting(custom_resource(generation + 1, uid, name, replicaset), stored)
    assert needs_submitting(cr, None)
    # The same name made again (a new uid) is a new object, even at the same generation.
    assert needs_submitting(custom_resource(generation, f"{uid}-new", name, replicaset), stored)
    # A deleting object is submitted no more.
    deleting = stored.model_copy(
        update={"metadata": stored.metadata.model_copy(update={"deletion_timestamp": utcnow()})}
    )
    assert not needs_submitting(custom_resource(generation + 1, uid, name, replicaset), deleting)


@given(st.integers(1, 10_000), st.uuids().map(str))
def test_a_submission_carries_no_server_owned_metadata_and_no_status(generation: int, uid: str) -> None:
    sent = submission(custom_resource(generation, uid))
    assert {"name", "namespace", "annotations", "labels"} >= set(sent["metadata"])
    assert "status" not in sent and "resourceVersion" not in sent["metadata"]


def test_a_mongodb_is_bridged_only_with_its_member_cluster_named() -> None:
    body = sample("mongodb")
    assert not is_bridged(MONGODB, body)
    body["metadata"]["annotations"] = {"fedstate.io/cluster": "member-2"}
    assert is_bridged(MONGODB, body) and is_bridged(MULTICLOUD_MONGODB, sample())


def test_the_refusal_names_the_field_path_as_the_intake_does() -> None:
    cr = custom_resource(1, "u")
    cr.body["spec"]["replicaset"] = 0
    with pytest.raises(Refused) as refused:
        stored_from(cr)
    assert ["spec.replicaset"] == [c.field for c in refused.value.error.causes]
