"""Disaster recovery (issue 12, item 5): a set whose voting majority is gone is told apart from one that can
still elect, and only an explicit request forces the freshest survivor's config, fencing the lost members."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fedstate.models.dataplane import ReplsetMemberView
from fedstate.models.replicaset import OpTime
from fedstate.replset import Lifecycle, WantedMember, desired_config
from fedstate.replset.quorum import majority, quorum_loss, recovery_config

from .test_lifecycle_plan_per_pass import dataplane, host, observed, one_pass, placement, report, running

STATES = st.sampled_from(["PRIMARY", "SECONDARY", "ARBITER", "DOWN", "STARTUP2", "RECOVERING", "UNKNOWN", "REMOVED"])
ANSWERING = {"PRIMARY", "SECONDARY", "ARBITER", "STARTUP2", "RECOVERING"}
OPTIMES = st.builds(OpTime, ts=st.integers(0, 50), i=st.integers(0, 3), t=st.integers(1, 4))


@given(
    st.lists(st.booleans(), min_size=1, max_size=7),
    st.lists(STATES, min_size=7, max_size=7),
    st.lists(OPTIMES, min_size=7, max_size=7),
)
def test_lost_exactly_when_no_primary_and_a_minority_of_voters_answers(
    voting: list[bool], states: list[str], optimes: list[OpTime]
) -> None:
    config = desired_config("rs", [WantedMember(o, host(o), v) for o, v in enumerate(voting)])
    roles = dict(enumerate(states[: len(voting)]))
    loss = quorum_loss(config, roles, dict(enumerate(optimes)))
    voters = [m.id for m in config.members if m.votes]
    answering = [o for o in voters if roles[o] in ANSWERING]
    expected = bool(voters) and "PRIMARY" not in roles.values() and len(answering) < majority(len(voters))
    assert expected == (loss is not None)
    if loss is None:
        return
    survivors = {s.ordinal for s in loss.survivors}
    assert survivors == {o for o, r in roles.items() if r in {"SECONDARY", "ARBITER"}}
    assert set(loss.lost) == {o for o, r in roles.items() if r not in ANSWERING}
    freshest = loss.freshest
    data = [s for s in loss.survivors if not s.arbiter]
    assert (freshest is None) == (not data)
    if freshest is None:
        return
    assert all(freshest.optime is not None and s.optime is not None for s in data)
    assert all(s.optime.key() <= freshest.optime.key() for s in data if s.optime and freshest.optime)
    forced = recovery_config(config, loss)
    assert forced is not None and forced.version > config.version
    assert survivors == {m.id for m in forced.members}
    chosen = next(m for m in forced.members if m.id == freshest.ordinal)
    assert chosen.votes == 1 and chosen.priority > 0, "the freshest survivor must be able to win the election"


def test_members_syncing_after_an_initiate_are_not_a_lost_majority() -> None:
    """Right after replSetInitiate the other members are in initial sync (STARTUP2) and nobody is PRIMARY
    yet: they answer and vote, so a new set is never reported as having lost its majority."""
    config = desired_config("rs", [WantedMember(o, host(o), True) for o in range(3)])
    assert quorum_loss(config, {0: "SECONDARY", 1: "STARTUP2", 2: "STARTUP2"}, {}) is None


def test_the_freshest_survivor_is_by_term_then_timestamp() -> None:
    config = desired_config("rs", [WantedMember(o, host(o), True) for o in range(5)])
    roles = {0: "DOWN", 1: "SECONDARY", 2: "SECONDARY", 3: "DOWN", 4: "DOWN"}
    optimes = {1: OpTime(ts=90, t=2), 2: OpTime(ts=80, t=3)}
    loss = quorum_loss(config, roles, optimes)
    assert loss is not None and loss.freshest is not None and 2 == loss.freshest.ordinal
    assert "2 of 5 voters reachable, a majority needs 3" in loss.describe()
    assert "m2 127.0.1.1:30002 (SECONDARY, optime {ts: 80.0, t: 3})" in loss.describe()


def lost_two_of_three(recover: bool, primary_survives: bool = False) -> Lifecycle:
    specs, reports = running({"a": [0], "b": [1], "c": [2]}, primary=0)
    config = reports["a"].rs_config
    survivor = "PRIMARY" if primary_survives else "SECONDARY"
    reports["a"] = report("a", [observed(0, survivor).model_copy(update={"optime": OpTime(ts=7, t=1)})], config)
    reports["b"] = report("b", [observed(1, "DOWN")], config)
    reports["c"] = report("c", [observed(2, "DOWN")], config)
    return one_pass(specs, reports, placement({"a": 1, "b": 1, "c": 1}), recover=recover)


def test_a_lost_majority_is_shown_and_left_alone_until_recovery_is_asked() -> None:
    decided = lost_two_of_three(recover=False)
    assert decided.quorum is not None and (0,) == tuple(s.ordinal for s in decided.quorum.survivors)
    assert (1, 2) == decided.quorum.lost
    assert all(c.force_on is None and not c.fenced for c in decided.clusters)


def test_asked_recovery_forces_the_survivors_config_on_the_freshest_and_fences_the_lost() -> None:
    decided = lost_two_of_three(recover=True)
    (forcing,) = [c for c in decided.clusters if c.force_on is not None]
    assert ("a", 0) == (forcing.cluster, forcing.force_on)
    assert forcing.rs_config is not None and [0] == [m.id for m in forcing.rs_config.members]
    assert all([1, 2] == c.fenced for c in decided.clusters)
    (action,) = decided.actions
    assert action.startswith("ForcedRecovery: ") and "writes not replicated to the survivors are lost" in action


def test_a_set_with_a_primary_is_never_forced_even_when_asked() -> None:
    decided = lost_two_of_three(recover=True, primary_survives=True)
    assert decided.quorum is None
    assert all(c.force_on is None for c in decided.clusters)


def test_fenced_members_are_replaced_by_new_ordinals_and_leave_their_clusters() -> None:
    """After the forced config (m0 alone, PRIMARY), m1 and m2 are fenced: the next pass gives their clusters new
    members and drops m1, m2 from every spec, so their agents delete them when the clusters come back."""
    survivor_only = desired_config("rs", [WantedMember(0, host(0), True)]).model_copy(update={"version": 20_000})
    specs = {c: dataplane(c, [o], initiator=c == "a").model_copy(update={"fenced": [1, 2]}) for c, o in
             {"a": 0, "b": 1, "c": 2}.items()}  # fmt: skip
    reports = {
        "a": report("a", [observed(0, "PRIMARY")], survivor_only),
        "b": report("b", [observed(1, "DOWN")], survivor_only),
        "c": report("c", [observed(2, "DOWN")], survivor_only),
    }
    decided = one_pass(specs, reports, placement({"a": 1, "b": 1, "c": 1}))
    ordinals = {c.cluster: c.ordinals for c in decided.clusters}
    assert {"a": [0], "b": [3], "c": [4]} == ordinals


def test_survivors_that_still_see_a_primary_have_not_lost_the_majority() -> None:
    """Agents cut off from the bus make their members look DOWN to the federation; if the survivor's own view
    of the set shows a healthy PRIMARY, the set works and must never be forced."""
    specs, reports = running({"a": [0], "b": [1], "c": [2]}, primary=1)
    config = reports["a"].rs_config
    view = [ReplsetMemberView(id=o, host=host(o), state=1 if o == 1 else 2, health=1,
                              state_str="PRIMARY" if o == 1 else "SECONDARY") for o in range(3)]  # fmt: skip
    reports["a"] = report("a", [observed(0, "SECONDARY")], config).model_copy(update={"replset": view})
    reports["b"] = report("b", [observed(1, "DOWN")], config)
    reports["c"] = report("c", [observed(2, "DOWN")], config)
    decided = one_pass(specs, reports, placement({"a": 1, "b": 1, "c": 1}), recover=True)
    assert decided.quorum is None and all(c.force_on is None for c in decided.clusters)
    reports["a"] = reports["a"].model_copy(
        update={"replset": [r.model_copy(update={"health": 0}) if r.id else r for r in view]}
    )
    assert one_pass(specs, reports, placement({"a": 1, "b": 1, "c": 1})).quorum is not None, "an unreachable PRIMARY"
