"""Status says Health only when every member is PRIMARY/SECONDARY/ARBITER and exactly one is PRIMARY."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

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


def report(cluster: str, roles: dict[int, str], ready: bool = True) -> DataPlaneStatus:
    members = [
        MemberObservation(ordinal=o, name=f"rs-m{o}", address=f"127.0.{o}.1:3000{o}", ready=ready, role=r)
        for o, r in roles.items()
    ]
    return DataPlaneStatus(cluster=cluster, revision=f"rs-{cluster}", members=members, initiated=True, observed_at=NOW)


def observation(
    roles: dict[int, str],
    config_ref: str | None = None,
    found: bool = False,
    assignment: dict[str, list[int]] = ASSIGNMENT,
) -> Observation:
    placement = Placement(
        spec_generation=1,
        mode="Uniform",
        clusters=[ClusterAssignment(cluster=c, replicas=len(o), voters=len(o)) for c, o in assignment.items()],
    )
    return Observation(
        generation=1,
        replicaset=sum(len(o) for o in assignment.values()),
        deleting=False,
        config_ref=config_ref,
        config_ref_found=found,
        placement=placement,
        assignment=assignment,
        dataplane={c: dataplane(c) for c in assignment},
        observed={c: report(c, {o: roles[o] for o in ordinals}) for c, ordinals in assignment.items()},
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


def test_two_primaries_are_never_health() -> None:
    """Two members that both say PRIMARY (a split brain) is not Health, nor SubHealth: it is UnHealth."""
    status = aggregate(
        observation({0: "PRIMARY", 1: "SECONDARY", 2: "PRIMARY", 3: "SECONDARY", 4: "SECONDARY"}), None, NOW
    )
    assert "UnHealth" == status.state
    ready = next(c for c in status.conditions if c.type == "ServerReady")
    assert "False" == ready.status


ROLES = st.sampled_from(["PRIMARY", "SECONDARY", "ARBITER", "STARTUP2", "RECOVERING", "ROLLBACK", "UNKNOWN"])


@st.composite
def observed_sets(draw: st.DrawFn) -> tuple[dict[str, list[int]], dict[int, str]]:
    """1 to 3 clusters of 1 to 3 members each, every member in any state."""
    counts = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    ordinals = iter(range(sum(counts)))
    assignment = {f"member-{i + 1}": [next(ordinals) for _ in range(n)] for i, n in enumerate(counts)}
    roles = {o: draw(ROLES) for members in assignment.values() for o in members}
    return assignment, roles


@given(observed_sets())
def test_health_means_exactly_one_primary_and_every_member_healthy(
    drawn: tuple[dict[str, list[int]], dict[int, str]],
) -> None:
    """For any layout and any member states: Health exactly when one member is PRIMARY and the others
    SECONDARY or ARBITER; SubHealth only with exactly one PRIMARY."""
    assignment, roles = drawn
    status = aggregate(observation(roles, assignment=assignment), None, NOW)
    shown = [role for result in status.result for role in result.connect_addr_with_role.values()]
    one_primary = 1 == shown.count("PRIMARY")
    healthy = one_primary and set(shown) <= {"PRIMARY", "SECONDARY", "ARBITER"}
    assert sorted(roles.values()) == sorted(shown)
    assert healthy == (status.state == "Health")
    assert status.state != "SubHealth" or one_primary


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
