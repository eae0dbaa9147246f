"""Single-cluster mode, pure part: the seed's MongoDB sample becomes a data-plane spec, credentials come from
the Secret when it exists, and the status keeps the seed's shape."""

from __future__ import annotations

from datetime import UTC, datetime

import yaml
from hypothesis import given
from hypothesis import strategies as st

from fedstate.models.base import Condition
from fedstate.models.dataplane import DataPlaneSpec, DataPlaneStatus, MemberObservation, ReplsetMemberView, revision_of
from fedstate.models.mongodb import MongoDB
from fedstate.replset import Lifecycle
from fedstate_agent.manifests import member_statefulset
from fedstate_agent.singlecluster import (
    base_spec,
    credentials,
    lifecycle,
    odd_voters,
    ordinal_of,
    planned_spec,
    status_of,
)
from tests.conftest import REFERENCE

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def sample() -> MongoDB:
    raw = yaml.safe_load((REFERENCE / "mongodb-sample.yaml").read_text())
    raw["metadata"].update({"uid": "0f1e2d3c-0000-4000-8000-000000000000", "generation": 1})
    return MongoDB.model_validate(raw)


def fixed(length: int) -> str:
    return "g" * length


def test_the_seed_sample_maps_every_field() -> None:
    spec = base_spec(sample(), "default", "member-2", [], credentials("123456", None, fixed), None)
    assert ("mongo:3.6", "Always", "mongodb-sample-pull") == (
        spec.image,
        spec.image_pull_policy,
        spec.image_pull_secret,
    )
    assert spec.registry_credentials is not None and "admin" == spec.registry_credentials.username
    assert ["LOG_LEVEL"] == [e.name for e in spec.env] and [] == spec.config_set
    assert (True, "0.1") == (spec.export.enable, spec.export.resource.limits.cpu)  # type: ignore[union-attr]
    assert (None, "1Gi") == (spec.storage.storage_class, spec.storage.storage_size)
    assert ("123456", "MongoDB", True) == (spec.credentials.root_password, spec.instance.kind, spec.initiator)
    assert spec.revision.startswith("mongodb-sample-")


def test_credentials_come_from_the_secret_and_a_new_root_password_rotates() -> None:
    held = {"keyfile": "K" * 64, "root-password": "old", "cluster-admin-password": "a", "cluster-monitor-password": "m"}
    kept = credentials(None, held, fixed)
    assert ("K" * 64, "old", "a", "m", None) == (
        kept.key_file, kept.root_password, kept.cluster_admin_password, kept.cluster_monitor_password,
        kept.previous_root_password,
    )  # fmt: skip
    rotated = credentials("new", held, fixed)
    assert ("new", "old") == (rotated.root_password, rotated.previous_root_password)
    generated = credentials(None, None, fixed)
    assert ("g" * 64, "g" * 24) == (generated.key_file, generated.root_password)


def test_voters_are_odd_and_at_most_seven_and_ordinals_come_from_names() -> None:
    assert [1, 1, 3, 3, 5, 5, 7, 7, 7] == [odd_voters(n) for n in range(1, 10)]
    assert (3, 12, None) == (ordinal_of("rs-m3"), ordinal_of("data-0f1e2d3c-rs-m12-0"), ordinal_of("rs-auth"))


def test_a_first_pass_creates_the_members_and_a_status_in_the_seed_shape() -> None:
    obj = sample()
    base = base_spec(obj, "default", "member-2", [], credentials("123456", None, fixed), None)
    empty = DataPlaneStatus(cluster="member-2", observed_at=NOW)
    spec = planned_spec(base, lifecycle(obj, "member-2", base, empty, set()))
    assert ["mongodb-sample-m0"] == [m.name for m in spec.members]
    report = DataPlaneStatus(
        cluster="member-2",
        revision=spec.revision,
        current_revision=spec.revision,
        members=[
            MemberObservation(
                ordinal=0,
                name="mongodb-sample-m0",
                address="127.0.2.1:30001",
                ready=True,
                role="PRIMARY",
                revision=spec.revision,
            )
        ],
        initiated=True,
        replset=[ReplsetMemberView(id=0, host="127.0.2.1:30001", state=1, state_str="PRIMARY", health=1)],
        conditions=[Condition(type=t, status="True") for t in ("rsInit", "userRoot", "userClusterAdmin")],
        observed_at=NOW,
    )
    status = status_of(report, None, None, NOW).to_wire()
    assert {"rsInit", "userRoot", "userClusterAdmin"} <= {c["type"] for c in status["conditions"]}
    assert 1 == status["currentInfo"]["members"] and spec.revision == status["currentRevision"]
    assert {"_id": 0, "name": "127.0.2.1:30001", "health": 1, "state": 1, "stateStr": "PRIMARY",
            "syncSourceHost": ""} == status["replset"][0]  # fmt: skip


def test_pod_security_context_and_topology_spread_reach_the_pods_and_roll_them() -> None:
    """podSpec.securityContext and topologySpreadConstraints are on every member's pod; setting them is a
    new revision (a roll), while a sample that leaves them empty keeps the revision it had before."""
    obj = sample()
    plain = base_spec(obj, "default", "member-2", [0], credentials("123456", None, fixed), None)
    spread = [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule"}]
    obj.spec.pod_spec.security_context = {"runAsNonRoot": True}
    obj.spec.pod_spec.topology_spread_constraints = spread
    shaped = base_spec(obj, "default", "member-2", [0], credentials("123456", None, fixed), None)
    pod = member_statefulset(shaped, shaped.members[0])["spec"]["template"]["spec"]
    assert ({"runAsNonRoot": True}, spread) == (pod["securityContext"], pod["topologySpreadConstraints"])
    assert "securityContext" not in member_statefulset(plain, plain.members[0])["spec"]["template"]["spec"]
    assert plain.revision != shaped.revision
    # The revision the sample had before these fields existed: upgrading the agent rolls no existing set.
    assert "mongodb-sample-e54250362c" == plain.revision == revision_of(plain)


def healthy_report() -> tuple[MongoDB, DataPlaneStatus]:
    obj = sample()
    base = base_spec(obj, "default", "member-2", [0], credentials("123456", None, fixed), None)
    member = MemberObservation(
        ordinal=0,
        name="mongodb-sample-m0",
        address="127.0.2.1:30001",
        ready=True,
        role="PRIMARY",
        revision=base.revision,
    )
    users = [Condition(type=t, status="True") for t in ("rsInit", "userRoot", "userClusterAdmin")]
    report = DataPlaneStatus(
        cluster="member-2", revision=base.revision, members=[member], initiated=True, conditions=users, observed_at=NOW
    )
    return obj, report


def test_a_missing_custom_config_map_is_an_error_that_names_it_not_running() -> None:
    """The members run with the default config, but the object does not pretend all is well."""
    obj, report = healthy_report()
    decided = lifecycle(obj, "member-2", planned_spec_of(obj), report, {0})
    status = status_of(report, decided, None, NOW, config_ref=("mongo-custom", False))
    found = next(c for c in status.conditions if c.type == "ConfigRefFound")
    assert ("Error", "False", "ConfigMapNotFound") == (status.state, found.status, found.reason)
    assert "mongo-custom" in found.message
    present = status_of(report, decided, None, NOW, config_ref=("mongo-custom", True))
    assert "Error" != present.state
    assert "True" == next(c.status for c in present.conditions if c.type == "ConfigRefFound")


def planned_spec_of(obj: MongoDB) -> DataPlaneSpec:
    return base_spec(obj, "default", "member-2", [0], credentials("123456", None, fixed), None)


def test_every_state_carries_its_reason_in_the_ready_condition() -> None:
    obj, report = healthy_report()
    starting = report.model_copy(update={"members": [report.members[0].model_copy(update={"role": "STARTUP2"})]})
    status = status_of(starting, lifecycle(obj, "member-2", planned_spec_of(obj), starting, {0}), None, NOW)
    ready = next(c for c in status.conditions if c.type == "Ready")
    assert ("Reconciling", "False") == (status.state, ready.status)
    assert "mongodb-sample-m0 is STARTUP2" in ready.message


SETTLED = Lifecycle(clusters=[], conditions=[], initiated=True, settled=True)


def reported(roles: list[str]) -> DataPlaneStatus:
    """An initiated set whose members, all Ready, report ``roles``."""
    members = [
        MemberObservation(ordinal=o, name=f"rs-m{o}", address=f"127.0.2.1:3000{o}", ready=True, role=role)
        for o, role in enumerate(roles)
    ]
    return DataPlaneStatus(cluster="member-2", members=members, initiated=True, observed_at=NOW)


def test_two_primaries_are_not_running() -> None:
    """A split brain (two members say PRIMARY) keeps a settled single-cluster MongoDB Reconciling."""
    assert "Running" == status_of(reported(["PRIMARY", "SECONDARY", "SECONDARY"]), SETTLED, None, NOW).state
    assert "Reconciling" == status_of(reported(["PRIMARY", "PRIMARY", "SECONDARY"]), SETTLED, None, NOW).state


@given(st.lists(st.sampled_from(["PRIMARY", "SECONDARY", "ARBITER", "STARTUP2", "RECOVERING", "UNKNOWN"]), min_size=1))
def test_running_means_exactly_one_primary_and_every_member_healthy(roles: list[str]) -> None:
    """For any member states of a settled set: Running exactly when one member is PRIMARY and the others
    SECONDARY or ARBITER."""
    healthy = 1 == roles.count("PRIMARY") and set(roles) <= {"PRIMARY", "SECONDARY", "ARBITER"}
    assert healthy == ("Running" == status_of(reported(roles), SETTLED, None, NOW).state)
