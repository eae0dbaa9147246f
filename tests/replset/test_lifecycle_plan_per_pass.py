"""One orchestrator pass (``fedstate.replset.plan``): who runs where, which config step, which restart."""

from __future__ import annotations

from datetime import UTC, datetime

from fedstate.models.base import Condition
from fedstate.models.dataplane import (
    Credentials,
    DataPlaneSpec,
    DataPlaneStatus,
    InstanceRef,
    MemberObservation,
    MemberSpec,
)
from fedstate.models.placement import ClusterAssignment, Placement
from fedstate.models.replicaset import RsConfig
from fedstate.replset import Lifecycle, LifecycleInput, WantedMember, desired_config, plan
from fedstate.replset.lifecycle import assign_seats

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CREDS = Credentials(key_file="k", root_password="r", cluster_admin_password="c", cluster_monitor_password="m")
Layout = dict[str, list[int]]


def host(ordinal: int) -> str:
    return f"127.0.1.1:{30000 + ordinal}"


def dataplane(cluster: str, ordinals: list[int], initiator: bool = False, next_ordinal: int = 0) -> DataPlaneSpec:
    return DataPlaneSpec(
        instance=InstanceRef(tenant="default", namespace="default", name="rs"),
        generation=1,
        repl_set_name="rs",
        members=[MemberSpec(ordinal=o, name=f"rs-m{o}") for o in ordinals],
        credentials=CREDS,
        initiator=initiator,
        revision="rs-old",
        next_ordinal=next_ordinal,
    )


def observed(ordinal: int, role: str, revision: str = "rs-old") -> MemberObservation:
    return MemberObservation(
        ordinal=ordinal,
        name=f"rs-m{ordinal}",
        address=host(ordinal),
        ready=role != "DOWN",
        role=role,
        revision=revision,
        seen_by_primary=role,
    )


def report(cluster: str, members: list[MemberObservation], config: RsConfig | None) -> DataPlaneStatus:
    return DataPlaneStatus(
        cluster=cluster, members=members, initiated=config is not None, rs_config=config, observed_at=NOW
    )


def placement(replicas: dict[str, int], voters: dict[str, int] | None = None) -> Placement:
    voting = voters or replicas
    return Placement(
        spec_generation=1,
        mode="Uniform",
        clusters=[ClusterAssignment(cluster=c, replicas=n, voters=voting[c]) for c, n in replicas.items()],
    )


def running(layout: Layout, primary: int = 0, revision: dict[int, str] | None = None) -> tuple[dict[str, DataPlaneSpec], dict[str, DataPlaneStatus]]:  # fmt: skip
    """An initiated set: every member of ``layout`` votes, ``primary`` is PRIMARY."""
    config = desired_config("rs", [WantedMember(o, host(o), True) for ordinals in layout.values() for o in ordinals])
    specs = {c: dataplane(c, ordinals, initiator=c == "a") for c, ordinals in layout.items()}
    runs = revision or {}
    reports = {
        c: report(
            c,
            [observed(o, "PRIMARY" if o == primary else "SECONDARY", runs.get(o, "rs-old")) for o in ordinals],
            config,
        )
        for c, ordinals in layout.items()
    }
    return specs, reports


def one_pass(
    specs: dict[str, DataPlaneSpec],
    reports: dict[str, DataPlaneStatus],
    wanted: Placement,
    revision: str = "rs-old",
    recover: bool = False,
    generation: int = 0,
) -> Lifecycle:
    return plan(
        LifecycleInput(
            name="rs",
            image="mongo:6.0",
            revision=revision,
            assignment=assign_seats(specs, reports, wanted)[0],
            arbiter=None,
            placement=wanted,
            dataplane=specs,
            observed=reports,
            recover=recover,
            generation=generation,
        )
    )


def written(decided: Lifecycle) -> dict[str, DataPlaneSpec]:
    """The specs the orchestrator would write, as the next pass reads them."""
    return {
        c.cluster: dataplane(c.cluster, [m.ordinal for m in c.members if not m.retiring], c.initiator, c.next_ordinal)
        for c in decided.clusters
    }


def test_a_scale_up_adds_members_that_wait_for_their_pods_and_says_so() -> None:
    specs, reports = running({"a": [0], "b": [1], "c": [2]})
    decided = one_pass(specs, reports, placement({"a": 2, "b": 2, "c": 1}))
    assert {"a": [0, 3], "b": [1, 4], "c": [2]} == {c.cluster: c.ordinals for c in decided.clusters}
    condition = next(c for c in decided.conditions if c.type == "MembersConfigured")
    assert "False" == condition.status
    assert "left: add m3, m4; now: waiting for m3, m4 to be Ready before joining" == condition.message
    assert not decided.settled


def test_a_ready_new_member_joins_as_a_non_voter_through_the_initiator() -> None:
    specs, reports = running({"a": [0], "b": [1], "c": [2]})
    specs["a"] = dataplane("a", [0, 3], initiator=True)
    reports["a"] = reports["a"].model_copy(update={"members": [*reports["a"].members, observed(3, "STARTUP")]})
    decided = one_pass(specs, reports, placement({"a": 2, "b": 1, "c": 1}, {"a": 1, "b": 1, "c": 1}))
    initiator = next(c for c in decided.clusters if c.initiator)
    assert initiator.rs_config is not None and 2 == initiator.rs_config.version
    assert [(0, 1), (1, 1), (2, 1), (3, 0)] == [(m.id, m.votes) for m in initiator.rs_config.members]
    assert ["Reconfiguring: add m3 as non-voting"] == decided.actions


def test_a_removed_member_stays_until_the_config_drops_it_and_its_ordinal_is_not_reused() -> None:
    specs, reports = running({"a": [0, 3], "b": [1], "c": [2]})
    three = placement({"a": 1, "b": 1, "c": 1})
    decided = one_pass(specs, reports, three)
    in_a = next(c for c in decided.clusters if c.cluster == "a").members
    assert [(0, False), (3, True)] == [(m.ordinal, m.retiring) for m in in_a]
    config = next(c for c in decided.clusters if c.initiator).rs_config
    assert config is not None and [0, 1, 2] == [m.id for m in config.members]

    _, after = running({"a": [0], "b": [1], "c": [2]})
    after = {c: r.model_copy(update={"rs_config": config}) for c, r in after.items()}
    later = one_pass(written(decided), after, three)
    assert [0] == next(c for c in later.clusters if c.cluster == "a").ordinals
    grown = one_pass(written(later), after, placement({"a": 1, "b": 2, "c": 1}, {"a": 1, "b": 1, "c": 1}))
    assert [1, 4] == next(c for c in grown.clusters if c.cluster == "b").ordinals


def test_a_scale_down_keeps_the_primary_of_a_cluster_that_loses_a_member_so_no_election_is_needed() -> None:
    specs, reports = running({"a": [0, 3], "b": [1], "c": [2]}, primary=3)
    decided = one_pass(specs, reports, placement({"a": 1, "b": 1, "c": 1}))
    in_a = next(c for c in decided.clusters if c.cluster == "a").members
    assert [(0, True), (3, False)] == [(m.ordinal, m.retiring) for m in in_a]
    assert [] == [o for c in decided.clusters for o in c.step_down]
    config = next(c for c in decided.clusters if c.initiator).rs_config
    assert config is not None and [1, 2, 3] == [m.id for m in config.members]


def test_a_scale_down_lets_a_member_that_does_not_answer_go_rather_than_a_healthy_one() -> None:
    specs, reports = running({"a": [0, 3], "b": [1], "c": [2]}, primary=1)
    reports["a"] = report("a", [observed(0, "DOWN"), observed(3, "SECONDARY")], reports["a"].rs_config)
    decided = one_pass(specs, reports, placement({"a": 1, "b": 1, "c": 1}))
    in_a = next(c for c in decided.clusters if c.cluster == "a").members
    assert [(0, True), (3, False)] == [(m.ordinal, m.retiring) for m in in_a]


def test_a_new_revision_restarts_one_secondary_and_steps_the_primary_down_last() -> None:
    three = placement({"a": 1, "b": 1, "c": 1})
    specs, reports = running({"a": [0], "b": [1], "c": [2]})
    first = one_pass(specs, reports, three, revision="rs-new")
    assert {"b": [1]} == {c.cluster: c.restart for c in first.clusters if c.restart}
    assert not any(c.step_down for c in first.clusters)

    _, updated = running({"a": [0], "b": [1], "c": [2]}, revision={1: "rs-new", 2: "rs-new"})
    last = one_pass(specs, updated, three, revision="rs-new")
    assert {"a": [0]} == {c.cluster: c.step_down for c in last.clusters if c.step_down}
    assert not any(c.restart for c in last.clusters)


def test_before_initiation_the_config_waits_for_every_member_to_be_ready() -> None:
    specs = {c: dataplane(c, [o], initiator=c == "a") for o, c in enumerate("abc")}
    reports = {c: report(c, [observed(o, "STARTUP")], None) for o, c in enumerate("abc")}
    reports["c"] = report("c", [observed(2, "DOWN")], None)
    three = placement({"a": 1, "b": 1, "c": 1})
    assert all(c.rs_config is None for c in one_pass(specs, reports, three).clusters)
    reports["c"] = report("c", [observed(2, "STARTUP")], None)
    initiator = next(c for c in one_pass(specs, reports, three).clusters if c.initiator)
    assert initiator.rs_config is not None and 3 == len(initiator.rs_config.voters())


def test_a_new_set_restarts_only_members_seen_on_another_revision_so_its_initiation_rewrites_no_spec() -> None:
    """Before the set holds data any member may take a new revision at once, but only one seen running another
    needs to: a new set's members start on the spec's revision, and telling every member to restart until the
    initiation cost every cluster of every new set one more spec write and agent pass."""
    specs = {c: dataplane(c, [o], initiator=c == "a") for o, c in enumerate("abc")}
    three = placement({"a": 1, "b": 1, "c": 1})
    created = {c: report(c, [observed(o, "STARTUP")], None) for o, c in enumerate("abc")}
    assert not any(c.restart for c in one_pass(specs, created, three).clusters)
    config = desired_config("rs", [WantedMember(o, host(o), True) for o in range(3)])
    initiated = {c: report(c, [observed(o, "SECONDARY")], config) for o, c in enumerate("abc")}
    assert not any(c.restart for c in one_pass(specs, initiated, three).clusters), "nothing to undo"

    updated_while_starting = one_pass(specs, created, three, revision="rs-new")
    assert {"a": [0], "b": [1], "c": [2]} == {c.cluster: c.restart for c in updated_while_starting.clusters}


def test_every_cluster_is_told_once_the_set_s_users_exist_and_it_stays_so() -> None:
    """Agents elsewhere wait for the users to read their members as clusterAdmin: the primary's agent logging
    in is news for all of them, and users, replicated data, never go away again."""
    specs, reports = running({"a": [0], "b": [1], "c": [2]})

    def told(specs: dict[str, DataPlaneSpec], reports: dict[str, DataPlaneStatus]) -> set[bool]:
        inp = LifecycleInput("rs", "mongo:6.0", "rs-old", {c: [m.ordinal for m in s.members] for c, s in specs.items()}, None, None, specs, reports)  # fmt: skip
        return {cluster.users_created for cluster in plan(inp).clusters}

    assert told(specs, reports) == {False}
    reports["a"] = reports["a"].model_copy(update={"users_ready": True})
    assert told(specs, reports) == {True}
    # The primary moves to a cluster whose agent has not logged in yet: still told.
    specs = {c: s.model_copy(update={"users_created": True}) for c, s in specs.items()}
    reports["a"] = reports["a"].model_copy(update={"users_ready": False})
    assert told(specs, reports) == {True}


def test_admin_moves_to_a_cluster_that_holds_the_set_not_to_one_of_new_members_only() -> None:
    """The admin cluster ``a`` lost (failover moves its member away): its role goes to a cluster with a member in
    the config, although ``d`` (new members only) would get the most voters. Found by the chaos test (seed
    322368): the role went to the new members' cluster, whose agent saw no set there and tried replSetInitiate
    (refused: the others hold data), so the set was stuck with its lost member and without the new ones."""
    specs, reports = running({"a": [0], "b": [1], "c": [2]})
    decided = one_pass(specs, reports, placement({"b": 1, "c": 1, "d": 2}))
    initiator = next(c for c in decided.clusters if c.initiator)
    assert initiator.cluster in {"b", "c"}, initiator.cluster
    # A set already stuck that way (the role on "d") gets unstuck: the role leaves "d" for a cluster of the set.
    specs["d"] = dataplane("d", [3, 4], initiator=True, next_ordinal=5)
    specs["a"] = specs["a"].model_copy(update={"initiator": False})
    stuck = next(c for c in one_pass(specs, reports, placement({"b": 1, "c": 1, "d": 2})).clusters if c.initiator)
    assert stuck.cluster in {"b", "c"}, stuck.cluster


def test_a_set_initiated_before_its_config_can_be_read_loses_no_member_and_restarts_none() -> None:
    """Between replSetInitiate and the first primary's users, members say they are initiated but no agent can
    read the config. Found by the chaos test (seed 113880): a scale from 5 to 3 then was planned as a new initial
    config, two of the five voters were deleted and the three others restarted at once for an update; a cluster
    failure later left two voters of five, and the set never had a primary again."""
    five = {"a": [0, 1], "b": [2], "c": [3], "d": [4]}
    specs = {c: dataplane(c, ordinals, initiator=c == "a") for c, ordinals in five.items()}
    initial = desired_config("rs", [WantedMember(o, host(o), True) for ordinals in five.values() for o in ordinals])
    specs["a"] = specs["a"].model_copy(update={"replica_set_config": initial})
    reports = {
        c: DataPlaneStatus(
            cluster=c, members=[observed(o, "SECONDARY") for o in ordinals], initiated=True, observed_at=NOW
        )
        for c, ordinals in five.items()
    }
    decided = one_pass(specs, reports, placement({"b": 1, "c": 1, "d": 1}), revision="rs-new")
    in_a = next(c for c in decided.clusters if c.cluster == "a")
    assert [(0, True), (1, True)] == [(m.ordinal, m.retiring) for m in in_a.members]
    assert in_a.initiator and in_a.rs_config == initial
    assert not any(c.restart for c in decided.clusters)
    assert decided.initiated and not decided.settled
    condition = next(c for c in decided.conditions if c.type == "MembersConfigured")
    assert ("False", "ConfigUnread") == (condition.status, condition.reason)

    # Once a primary's users let the agents read the config, the two leave it one voter at a time.
    _, readable = running(five, primary=2)
    later = one_pass(written(decided), readable, placement({"b": 1, "c": 1, "d": 1}), revision="rs-new")
    config = next(c for c in later.clusters if c.initiator).rs_config
    assert config is not None and 4 == len(config.voters())


def test_a_change_that_restarts_no_member_is_updated_once_every_cluster_reported_its_generation() -> None:
    """A rotated root password, say: the members' revision does not move, yet a cluster's Secret holds the old
    password until its agent has applied generation 2. Until every cluster reported on it, the update is not done."""
    three = placement({"a": 1, "b": 1, "c": 1})
    specs, reports = running({"a": [0], "b": [1], "c": [2]})
    on_2 = {c: r.model_copy(update={"generation": 2}) for c, r in reports.items()}

    def updated(observed: dict[str, DataPlaneStatus]) -> Condition:
        decided = one_pass(specs, observed, three, generation=2)
        return next(c for c in decided.conditions if c.type == "MembersUpdated")

    applying = updated({**on_2, "b": reports["b"]})
    assert ("False", "Applying") == (applying.status, applying.reason)
    assert "generation 2 is yet to be applied in b" == applying.message
    assert "True" == updated(on_2).status


def test_an_upgrade_is_updated_once_the_set_runs_at_its_release_s_feature_compatibility_version() -> None:
    """Every member runs 6.0 and the pass asks the initiator for FCV 6.0; the upgrade is done only once the
    initiator's agent reports the primary at that FCV (it read 5.0 before): a user who waited for it, then asked the
    set, found the old FCV."""
    three = placement({"a": 1, "b": 1, "c": 1})
    specs, reports = running({"a": [0], "b": [1], "c": [2]})
    on_6 = {
        c: r.model_copy(update={"members": [m.model_copy(update={"version": "6.0.14"}) for m in r.members]})
        for c, r in reports.items()
    }

    def updated(fcv: str) -> Condition:
        observed = {**on_6, "a": on_6["a"].model_copy(update={"feature_compatibility_version": fcv})}
        decided = one_pass(specs, observed, three)
        return next(c for c in decided.conditions if c.type == "MembersUpdated")

    raising = updated("5.0")
    assert ("False", "RaisingFeatureCompatibilityVersion") == (raising.status, raising.reason)
    done = updated("6.0")
    assert ("True", "every member runs revision rs-old (featureCompatibilityVersion 6.0)") == (
        done.status,
        done.message,
    )
