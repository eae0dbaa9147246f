"""Status says Health only when every member is PRIMARY/SECONDARY/ARBITER and exactly one is PRIMARY."""

from __future__ import annotations

from datetime import UTC, datetime

from fedstate.models.dataplane import Credentials, DataPlaneSpec, DataPlaneStatus, InstanceRef, MemberObservation
from fedstate.models.placement import ClusterAssignment, Placement
from fedstate_federation.domain.status import Observation, aggregate

NOW = datetime(2026, 1, 1, tzinfo=UTC)
ASSIGNMENT = {"member-1": [0, 1], "member-2": [2, 3], "member-3": [4]}
CREDS = Credentials(key_file="k", root_password="r", cluster_admin_password="c", cluster_monitor_password="m")


def dataplane(cluster: str) -> DataPlaneSpec:
    return DataPlaneSpec(
        instance=InstanceRef(tenant="default", namespace="default", name="rs"),
        generation=1,
        repl_set_name="rs",
        credentials=CREDS,
        revision=f"rs-{cluster}",
    )


def report(cluster: str, roles: dict[int, str]) -> DataPlaneStatus:
    members = [
        MemberObservation(ordinal=o, name=f"rs-m{o}", address=f"127.0.{o}.1:3000{o}", ready=True, role=r)
        for o, r in roles.items()
    ]
    return DataPlaneStatus(cluster=cluster, revision=f"rs-{cluster}", members=members, initiated=True, observed_at=NOW)


def observation(roles: dict[int, str], config_ref: str | None = None, found: bool = False) -> Observation:
    placement = Placement(
        spec_generation=1,
        mode="Uniform",
        clusters=[ClusterAssignment(cluster=c, replicas=len(o), voters=len(o)) for c, o in ASSIGNMENT.items()],
    )
    return Observation(
        generation=1,
        replicaset=5,
        deleting=False,
        config_ref=config_ref,
        config_ref_found=found,
        placement=placement,
        assignment=ASSIGNMENT,
        dataplane={c: dataplane(c) for c in ASSIGNMENT},
        observed={c: report(c, {o: roles[o] for o in ordinals}) for c, ordinals in ASSIGNMENT.items()},
    )


def test_one_primary_and_four_secondaries_is_health_in_fedstate_shape() -> None:
    status = aggregate(
        observation({0: "PRIMARY", 1: "SECONDARY", 2: "SECONDARY", 3: "SECONDARY", 4: "SECONDARY"}), None, NOW
    )
    assert "Health" == status.state
    assert [2, 2, 1] == [r.replicaset_spec for r in status.result]
    assert "PRIMARY" == status.result[0].connect_addr_with_role["127.0.0.1:30000"]
    assert 5 == len(status.external_addr.split(","))
    assert {"ServerReady": "True", "ServerCheck": "True", "ServerScheduledResult": "True"} == {
        c.type: c.status for c in status.conditions
    }


def test_a_member_in_startup2_makes_it_sub_health() -> None:
    status = aggregate(
        observation({0: "PRIMARY", 1: "SECONDARY", 2: "SECONDARY", 3: "STARTUP2", 4: "SECONDARY"}), None, NOW
    )
    assert "SubHealth" == status.state


def test_no_primary_is_unhealth() -> None:
    status = aggregate(observation(dict.fromkeys(range(5), "SECONDARY")), None, NOW)
    assert "UnHealth" == status.state


def test_a_missing_config_map_is_a_condition_not_silence() -> None:
    status = aggregate(observation(dict.fromkeys(range(5), "SECONDARY"), "my-config", found=False), None, NOW)
    condition = next(c for c in status.conditions if c.type == "ConfigRefFound")
    assert ("False", "ConfigMapNotFound") == (condition.status, condition.reason)
    assert "my-config" in condition.message


def test_transition_time_is_kept_while_a_condition_holds() -> None:
    healthy = observation({0: "PRIMARY", 1: "SECONDARY", 2: "SECONDARY", 3: "SECONDARY", 4: "SECONDARY"})
    first = aggregate(healthy, None, NOW)
    later = aggregate(healthy, first, datetime(2026, 1, 2, tzinfo=UTC))
    assert first.conditions == later.conditions
