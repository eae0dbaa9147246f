"""Status says Health only when every member is PRIMARY/SECONDARY/ARBITER and exactly one is PRIMARY; a new
instance is Creating until it is first Health; every other state says why."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from fedstate.api.views import ObjectView
from fedstate.cli.waiting import WaitFor
from fedstate.models.base import Condition
from fedstate.models.dataplane import Credentials, DataPlaneSpec, DataPlaneStatus, InstanceRef, MemberObservation
from fedstate.models.multicloud import InstanceState, MultiCloudMongoDBStatus
from fedstate.models.placement import ClusterAssignment, Placement
from fedstate.models.replicaset import OpTime
from fedstate.replset import WantedMember, desired_config
from fedstate.replset.quorum import QuorumLoss, quorum_loss
from fedstate_federation.domain.status import Observation, aggregate, is_fault, is_milestone, state_reason

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
    silent: dict[str, str] | None = None,
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
        observed={c: report(c, {o: roles[o] for o in ordinals if o in roles}) for c, ordinals in assignment.items()},
        silent_agents=silent or {},
    )


HEALTHY = {0: "PRIMARY", 1: "SECONDARY", 2: "SECONDARY", 3: "SECONDARY", 4: "SECONDARY"}


def once_healthy() -> MultiCloudMongoDBStatus:
    return aggregate(observation(HEALTHY), None, NOW)


def test_one_primary_and_four_secondaries_is_health_in_fedstate_shape() -> None:
    status = aggregate(
        observation({0: "PRIMARY", 1: "SECONDARY", 2: "SECONDARY", 3: "SECONDARY", 4: "SECONDARY"}), None, NOW
    )
    assert "Health" == status.state
    assert [2, 2, 1] == [r.replicaset_spec for r in status.result]
    assert "PRIMARY" == status.result[0].connect_addr_with_role["127.0.0.1:30000"]
    assert 5 == len(status.external_addr.split(","))
    assert {
        "ServerReady": "True",
        "ServerCheck": "True",
        "ServerScheduledResult": "True",
        "AgentsReporting": "True",
    } == {c.type: c.status for c in status.conditions}


def test_a_member_in_startup2_makes_it_sub_health() -> None:
    status = aggregate(
        observation({0: "PRIMARY", 1: "SECONDARY", 2: "SECONDARY", 3: "STARTUP2", 4: "SECONDARY"}),
        once_healthy(),
        NOW,
    )
    assert "SubHealth" == status.state
    assert "member 3 in member-2 is STARTUP2" == state_reason(status)


def test_a_member_lost_by_a_settled_set_is_a_fault_and_a_change_being_applied_is_not() -> None:
    """A scale or an update someone asked for makes the set SubHealth while it is applied, told as a Normal event;
    a member going away from a settled set is a Warning."""
    lost = aggregate(observation({**HEALTHY, 3: "DOWN"}), once_healthy(), NOW)
    assert ("SubHealth", True) == (lost.state, is_fault(lost))
    removing = Condition(type="MembersConfigured", status="False", reason="Reconfiguring", message="left: remove m4")
    scaled = Observation(**{**observation(HEALTHY).__dict__, "settled": False, "progress": [removing]})
    changing = aggregate(scaled, once_healthy(), NOW)
    assert ("SubHealth", False) == (changing.state, is_fault(changing))
    assert "left: remove m4" == state_reason(changing)
    # The first pass after `fedstate scale`, before the new placement: the member count is not reached yet.
    fewer = aggregate(Observation(**{**observation(HEALTHY).__dict__, "replicaset": 3}), once_healthy(), NOW)
    assert ("SubHealth", False) == (fewer.state, is_fault(fewer))
    headless = observation(dict.fromkeys(HEALTHY, "SECONDARY")).observed
    no_primary = aggregate(Observation(**{**scaled.__dict__, "observed": headless}), once_healthy(), NOW)
    assert ("UnHealth", True) == (no_primary.state, is_fault(no_primary))


def test_a_member_whose_pod_waits_says_why_in_the_state_reason() -> None:
    """A pod the scheduler cannot place: its message is the reason a user reads (``fedstate get -o wide``)."""
    obs = observation(HEALTHY)
    waiting = "0/3 nodes are available: 3 Insufficient cpu."
    report = obs.observed["member-2"]
    members = [
        m.model_copy(update={"ready": False, "message": waiting}) if m.ordinal == 3 else m for m in report.members
    ]
    obs = Observation(
        **{**obs.__dict__, "observed": {**obs.observed, "member-2": report.model_copy(update={"members": members})}}
    )
    status = aggregate(obs, once_healthy(), NOW)
    assert ("SubHealth", f"member 3 in member-2 is DOWN ({waiting})") == (status.state, state_reason(status))


def test_no_primary_is_unhealth() -> None:
    status = aggregate(observation(dict.fromkeys(range(5), "SECONDARY")), once_healthy(), NOW)
    assert "UnHealth" == status.state
    assert state_reason(status).startswith("no PRIMARY")


def test_a_new_instance_is_creating_until_it_is_first_health() -> None:
    """Members starting and the first election are not faults: no UnHealth (and no Warning) on the way."""
    steps = [{}, {0: "STARTUP2", 1: "STARTUP2"}, dict.fromkeys(range(5), "SECONDARY"), HEALTHY]
    status: MultiCloudMongoDBStatus | None = None
    states = []
    for roles in steps:
        status = aggregate(observation(roles), status, NOW)
        states.append(str(status.state))
    assert ["Creating", "Creating", "Creating", "Health"] == states


def test_an_unschedulable_new_instance_is_unhealth_and_says_why() -> None:
    unplaced = Placement(spec_generation=1, mode="Uniform", schedulable=False, summary="0/3 clusters are available")
    obs = observation({})
    obs = Observation(**{**obs.__dict__, "placement": unplaced, "assignment": {}, "dataplane": {}, "observed": {}})
    status = aggregate(obs, None, NOW)
    assert ("UnHealth", "cannot be scheduled: 0/3 clusters are available") == (status.state, state_reason(status))


def test_a_silent_agent_makes_its_members_down_and_names_itself() -> None:
    why = "no heartbeat from the dataplane-agent of member-2 since 2026-01-01T00:00:00+00:00 (failure threshold 20 s)"
    roles = {0: "PRIMARY", 1: "SECONDARY", 2: "DOWN", 3: "DOWN", 4: "SECONDARY"}
    status = aggregate(observation(roles, silent={"member-2": why}), once_healthy(), NOW)
    agents = status.condition("AgentsReporting")
    assert agents is not None and ("False", "AgentSilent") == (agents.status, agents.reason)
    assert why in agents.message
    assert "SubHealth" == status.state
    assert f"member 2 in member-2 is DOWN ({why})" in state_reason(status)


def test_every_agent_renewing_its_lease_is_a_true_condition() -> None:
    agents = once_healthy().condition("AgentsReporting")
    assert agents is not None and "True" == agents.status


def test_two_primaries_are_never_health() -> None:
    """Two members that both say PRIMARY (a split brain) is not Health, nor SubHealth: it is UnHealth."""
    status = aggregate(
        observation({0: "PRIMARY", 1: "SECONDARY", 2: "PRIMARY", 3: "SECONDARY", 4: "SECONDARY"}), once_healthy(), NOW
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
    status = aggregate(observation(roles, assignment=assignment), once_healthy(), NOW)
    shown = [role for result in status.result for role in result.connect_addr_with_role.values()]
    one_primary = 1 == shown.count("PRIMARY")
    healthy = one_primary and set(shown) <= {"PRIMARY", "SECONDARY", "ARBITER"}
    assert sorted(roles.values()) == sorted(shown)
    assert healthy == (status.state == "Health")
    assert status.state != "SubHealth" or one_primary


def test_a_missing_config_map_is_a_condition_not_silence() -> None:
    status = aggregate(observation(dict.fromkeys(range(5), "SECONDARY"), "my-config", found=False), once_healthy(), NOW)
    condition = next(c for c in status.conditions if c.type == "ConfigRefFound")
    assert ("False", "ConfigMapNotFound") == (condition.status, condition.reason)
    assert "my-config" in condition.message


def test_transition_time_is_kept_while_a_condition_holds() -> None:
    healthy = observation({0: "PRIMARY", 1: "SECONDARY", 2: "SECONDARY", 3: "SECONDARY", 4: "SECONDARY"})
    first = aggregate(healthy, None, NOW)
    later = aggregate(healthy, first, datetime(2026, 1, 2, tzinfo=UTC))
    assert first.conditions == later.conditions


def test_a_member_still_running_after_it_left_the_instance_keeps_it_from_health() -> None:
    """After a scale-down the set is Health only once the agent has removed the member; not while a client
    could still find it."""
    leaving = observation(HEALTHY)
    report = leaving.observed["member-3"]
    extra = report.members[0].model_copy(update={"ordinal": 7, "name": "rs-m7", "role": "SECONDARY"})
    stray = report.model_copy(update={"members": [*report.members, extra]})
    obs = Observation(**{**leaving.__dict__, "observed": {**leaving.observed, "member-3": stray}})
    status = aggregate(obs, once_healthy(), NOW)
    assert ("SubHealth", "member 7 in member-3 is being removed") == (status.state, state_reason(status))
    silent = Observation(**{**obs.__dict__, "silent_agents": {"member-3": "no heartbeat"}})
    assert "being removed" not in state_reason(aggregate(silent, once_healthy(), NOW))  # failover never waits


def lost_majority() -> QuorumLoss:
    config = desired_config("rs", [WantedMember(o, f"127.0.{o}.1:3000{o}", True) for o in range(5)])
    states = {0: "SECONDARY", 1: "SECONDARY", 2: "DOWN", 3: "DOWN", 4: "DOWN"}
    loss = quorum_loss(config, states, {0: OpTime(ts=100, t=2), 1: OpTime(ts=104, t=2)})
    assert loss is not None
    return loss


def test_a_lost_majority_shows_quorum_lost_with_the_survivors_their_optimes_and_the_options() -> None:
    roles = {0: "SECONDARY", 1: "SECONDARY", 2: "DOWN", 3: "DOWN", 4: "DOWN"}
    lost = dataclasses.replace(observation(roles), quorum=lost_majority())
    status = aggregate(lost, once_healthy(), NOW, "rs")
    condition = status.condition("QuorumLost")
    assert condition is not None and ("True", "MajorityUnreachable") == (condition.status, condition.reason)
    assert "2 of 5 voters reachable, a majority needs 3" in condition.message
    assert "m1 127.0.1.1:30001 (SECONDARY, optime {ts: 104.0, t: 2})" in condition.message
    assert "`fedstate recover mcm rs --force`: m1, the freshest survivor" in condition.message
    assert "writes not replicated to the survivors are lost" in condition.message
    assert "UnHealth" == status.state and state_reason(status).startswith("quorum lost: 2 of 5 voters reachable")

    back = aggregate(observation(HEALTHY), status, NOW)
    regained = back.condition("QuorumLost")
    assert regained is not None and "False" == regained.status, "once lost, the condition stays and says it is over"
    assert once_healthy().condition("QuorumLost") is None, "a set that never lost its majority does not show it"


def wait_conditions(*statuses: MultiCloudMongoDBStatus) -> list[WaitFor]:
    """Every ``fedstate wait --for`` a user could ask of these statuses: each state, each of their conditions with
    each status."""
    types = {c.type for status in statuses for c in status.conditions}
    return [WaitFor("state", s) for s in InstanceState] + [
        WaitFor("condition", t, v) for t in sorted(types) for v in ("True", "False", "Unknown")
    ]


def as_object(status: MultiCloudMongoDBStatus, generation: int = 1) -> ObjectView:
    wire = status.model_dump(mode="json", by_alias=True)
    return ObjectView(
        {"kind": "MultiCloudMongoDB", "metadata": {"name": "rs", "generation": generation}, "status": wire}
    )


@given(observed_sets(), st.data())
def test_a_status_change_any_wait_could_notice_is_a_milestone(
    drawn: tuple[dict[str, list[int]], dict[int, str]], data: st.DataObject
) -> None:
    """Progress may be written a moment late (the orchestrator holds it up to ``status_progress_seconds``); a
    change that any ``fedstate wait --for`` condition tells apart never is: it is a milestone, written at once."""
    assignment, roles = drawn
    before = aggregate(observation(roles, assignment=assignment), once_healthy(), NOW)
    later_roles = {o: data.draw(ROLES) for o in roles}
    silent = data.draw(st.sampled_from([{}, {sorted(assignment)[0]: "no heartbeat for 90s"}]))
    after = aggregate(observation(later_roles, assignment=assignment, silent=silent), before, NOW)
    if not is_milestone(before, after):
        for wanted in wait_conditions(before, after):
            assert wanted.met(as_object(before)) == wanted.met(as_object(after)), wanted
    assert is_milestone(None, after)


def test_a_member_s_new_role_within_the_same_state_is_progress() -> None:
    """A secondary in STARTUP2 becoming SECONDARY while the set stays SubHealth changes only the member list."""
    before = aggregate(observation({**HEALTHY, 4: "STARTUP2"}), once_healthy(), NOW)
    after = aggregate(observation({**HEALTHY, 3: "STARTUP2", 4: "SECONDARY"}), before, NOW)
    assert before != after and before.state == after.state == "SubHealth"
    assert not is_milestone(before, after)
    assert is_milestone(after, aggregate(observation(HEALTHY), after, NOW))  # ... and Health is a milestone
