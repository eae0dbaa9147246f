"""The federation's instance metrics: where the PRIMARY is, voters against the majority, whether the set survives
the loss of each cluster, and replication lag that is absent (never huge) for a member the PRIMARY cannot reach."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from fedstate.bus.names import InstanceKey, Kind
from fedstate.models import dataplane as dp
from fedstate.models.base import Condition
from fedstate.models.multicloud import InstanceState, MultiCloudMongoDBStatus
from fedstate.models.replicaset import RsConfig, RsMember
from fedstate.scrape import Sample
from fedstate_federation.domain.metrics import FAMILIES, InstanceReading, instance_samples

RS = InstanceKey("t", "ns", Kind.MULTICLOUD_MONGODB, "rs")
NOW = datetime(2026, 1, 1, tzinfo=UTC)
ELECTED = datetime(2025, 12, 31, 23, 0, tzinfo=UTC)
CREDS = dp.Credentials(key_file="k", root_password="r", cluster_admin_password="c", cluster_monitor_password="m")
SPLIT = {"member-1": [0, 1], "member-2": [2, 3], "member-3": [4]}
HEALTHY = {0: "PRIMARY", 1: "SECONDARY", 2: "SECONDARY", 3: "SECONDARY", 4: "SECONDARY"}
ALLOWED_LABELS = {"tenant", "namespace", "multicloudmongodb", "cluster", "state", "condition", "status"}


def config(split: dict[str, list[int]]) -> RsConfig:
    ordinals = sorted(o for os in split.values() for o in os)
    members = [RsMember.model_validate({"_id": o, "host": f"10.0.0.{o}:3000{o}"}) for o in ordinals]
    return RsConfig.model_validate({"_id": "rs", "version": 3, "members": members})


def view(roles: dict[int, str], optimes: dict[int, int], unreachable: set[int]) -> list[dp.ReplsetMemberView]:
    return [
        dp.ReplsetMemberView(
            id=o,
            host=f"10.0.0.{o}:3000{o}",
            state=8 if o in unreachable else 1,
            state_str="(not reachable/healthy)" if o in unreachable else role,
            health=0 if o in unreachable else 1,
            optime_seconds=0 if o in unreachable else optimes.get(o, 1000),
            election_date=ELECTED if role == "PRIMARY" else None,
        )
        for o, role in sorted(roles.items())
    ]


def reading(
    roles: dict[int, str],
    split: dict[str, list[int]] = SPLIT,
    optimes: dict[int, int] | None = None,
    unreachable: frozenset[int] = frozenset(),
    silent: frozenset[str] = frozenset(),
    status: MultiCloudMongoDBStatus | None = None,
) -> InstanceReading:
    """An instance whose agents report ``roles`` (ordinal → role); the PRIMARY's cluster reports its view."""
    primary_cluster = next((c for c, os in split.items() if any(roles.get(o) == "PRIMARY" for o in os)), None)
    the_view = view(roles, optimes or {}, set(unreachable))
    dataplane, observed = {}, {}
    for cluster, ordinals in split.items():
        dataplane[cluster] = dp.DataPlaneSpec(
            instance=dp.InstanceRef(tenant="t", namespace="ns", name="rs"),
            generation=1,
            repl_set_name="rs",
            credentials=CREDS,
            members=[dp.MemberSpec(ordinal=o, name=f"rs-m{o}") for o in ordinals],
        )
        observed[cluster] = dp.DataPlaneStatus(
            cluster=cluster,
            members=[
                dp.MemberObservation(
                    ordinal=o, name=f"rs-m{o}", ready=roles.get(o, "DOWN") != "DOWN", role=roles.get(o, "DOWN")
                )
                for o in ordinals
            ],
            rs_config=config(split),
            replset=the_view if cluster == primary_cluster else [],
            replset_seen_at=NOW,
            replset_term=4,
            observed_at=NOW,
        )
    return InstanceReading(RS, status, dataplane, observed, silent)


def values(samples: list[Sample], family: str, key: str = "cluster") -> dict[str, float]:
    return {s.labels.get(key, ""): s.value for s in samples if s.family.name == family}


def test_a_healthy_two_two_one_set_has_its_primary_in_one_cluster_and_survives_any_one_loss() -> None:
    samples = list(instance_samples(reading(HEALTHY)))
    assert {"member-1": 1.0} == values(samples, "fedstate_instance_primary_info")
    assert {"": 1.0} == values(samples, "fedstate_instance_primaries")
    assert {"member-1": 2.0, "member-2": 2.0, "member-3": 1.0} == values(samples, "fedstate_instance_voters")
    assert {"": 3.0} == values(samples, "fedstate_instance_voters_majority")
    assert {"member-1": 1.0, "member-2": 1.0, "member-3": 1.0} == values(
        samples, "fedstate_instance_survives_cluster_loss"
    )
    assert {"": 4.0} == values(samples, "fedstate_instance_elections")
    assert {"": ELECTED.timestamp()} == values(samples, "fedstate_instance_last_election_timestamp_seconds")


def test_with_one_member_down_the_set_no_longer_survives_losing_the_cluster_of_two() -> None:
    """2+2+1 with a member of member-2 down: losing member-1 leaves 2 of 5 voters, no majority."""
    samples = list(instance_samples(reading(HEALTHY | {3: "DOWN"})))
    assert {"member-1": 0.0, "member-2": 1.0, "member-3": 1.0} == values(
        samples, "fedstate_instance_survives_cluster_loss"
    )
    members = {(s.labels["cluster"], s.labels["state"]): s.value for s in samples if s.family.name.endswith("_members")}
    assert 1.0 == members["member-2", "DOWN"]
    assert 1.0 == members["member-2", "SECONDARY"]


def test_a_cluster_holding_a_majority_of_voters_is_never_survivable() -> None:
    samples = list(instance_samples(reading({0: "PRIMARY", 1: "SECONDARY", 2: "SECONDARY"}, {"a": [0, 1], "b": [2]})))
    assert {"a": 0.0, "b": 1.0} == values(samples, "fedstate_instance_survives_cluster_loss")


def test_lag_is_the_largest_per_cluster_and_absent_for_a_member_the_primary_cannot_reach() -> None:
    optimes = {0: 1000, 1: 993, 2: 1000, 3: 990, 4: 0}
    samples = list(instance_samples(reading(HEALTHY | {4: "DOWN"}, optimes=optimes, unreachable=frozenset({4}))))
    assert {"member-1": 7.0, "member-2": 10.0} == values(samples, "fedstate_instance_replication_lag_seconds")
    assert {"": NOW.timestamp()} == values(samples, "fedstate_instance_replication_status_timestamp_seconds")


def test_no_primary_means_no_primary_cluster_no_lag_and_zero_primaries() -> None:
    samples = list(instance_samples(reading(HEALTHY | {0: "SECONDARY"})))
    assert {} == values(samples, "fedstate_instance_primary_info")
    assert {} == values(samples, "fedstate_instance_replication_lag_seconds")
    assert {"": 0.0} == values(samples, "fedstate_instance_primaries")


def test_a_silent_agents_view_is_not_used_and_its_members_count_down() -> None:
    """A silent cluster's report still holds the replSetGetStatus it read last: it gives no lag, no election."""
    heard = reading(HEALTHY, optimes={1: 900}, silent=frozenset({"member-1"}))
    report = heard.observed["member-1"]
    down = [m.model_copy(update={"ready": False, "role": "DOWN"}) for m in report.members]
    silent = InstanceReading(
        RS,
        None,
        heard.dataplane,
        heard.observed | {"member-1": report.model_copy(update={"members": down})},
        heard.silent,
    )
    samples = list(instance_samples(silent))
    assert {} == values(samples, "fedstate_instance_replication_lag_seconds")
    assert {} == values(samples, "fedstate_instance_elections")
    assert {} == values(samples, "fedstate_instance_primary_info")
    assert {"member-1": 1.0, "member-2": 0.0, "member-3": 0.0} == values(
        samples, "fedstate_instance_survives_cluster_loss"
    )


def test_the_primary_s_own_view_wins_over_a_fresher_one_from_a_peer() -> None:
    """A peer's replSetGetStatus may not carry the PRIMARY's election; the PRIMARY's own one does."""
    base = reading(HEALTHY, optimes={1: 990})
    own = base.observed["member-1"]
    peer_view = [row.model_copy(update={"election_date": None, "optime_seconds": 1000}) for row in own.replset]
    later = NOW.replace(minute=5)
    peer = base.observed["member-2"].model_copy(update={"replset": peer_view, "replset_seen_at": later})
    samples = list(instance_samples(InstanceReading(RS, None, base.dataplane, base.observed | {"member-2": peer})))
    assert {"": ELECTED.timestamp()} == values(samples, "fedstate_instance_last_election_timestamp_seconds")
    assert 10.0 == values(samples, "fedstate_instance_replication_lag_seconds")["member-1"]


def test_state_and_conditions_are_one_hot() -> None:
    ready = Condition(type="ServerReady", status="False", reason="UnHealth")
    status = MultiCloudMongoDBStatus(state=InstanceState.UN_HEALTH, conditions=[ready])
    samples = list(instance_samples(reading(HEALTHY, status=status)))
    states = values(samples, "fedstate_instance_state", "state")
    assert {"UnHealth"} == {state for state, v in states.items() if v == 1}
    assert len(InstanceState) == len(states)
    conditions = {s.labels["status"]: s.value for s in samples if s.family.name == "fedstate_instance_condition"}
    assert {"true": 0.0, "false": 1.0, "unknown": 0.0} == conditions


def test_an_instance_the_federation_holds_nothing_of_has_no_series() -> None:
    assert [] == list(
        instance_samples(InstanceReading(InstanceKey("t", "ns", Kind.MULTICLOUD_MONGODB, "gone"), None, {}, {}))
    )


roles_strategy = st.dictionaries(
    st.integers(0, 6),
    st.sampled_from(["PRIMARY", "SECONDARY", "ARBITER", "DOWN", "RECOVERING", "STARTUP2"]),
    min_size=1,
)


@given(roles=roles_strategy, clusters=st.lists(st.sampled_from("abc"), min_size=7, max_size=7))
def test_survives_a_loss_exactly_when_the_voters_up_elsewhere_make_a_majority(
    roles: dict[int, str], clusters: list[str]
) -> None:
    split: dict[str, list[int]] = {}
    for ordinal in roles:
        split.setdefault(clusters[ordinal], []).append(ordinal)
    samples = list(instance_samples(reading(roles, split)))
    majority = len(roles) // 2 + 1
    for cluster, survives in values(samples, "fedstate_instance_survives_cluster_loss").items():
        up_elsewhere = sum(
            1 for o, r in roles.items() if clusters[o] != cluster and r in {"PRIMARY", "SECONDARY", "ARBITER"}
        )
        assert (up_elsewhere >= majority) == bool(survives)
    assert len(roles) == sum(s.value for s in samples if s.family.name == "fedstate_instance_members")


@given(
    optimes=st.dictionaries(st.integers(1, 4), st.integers(0, 2000), min_size=4, max_size=4),
    unreachable=st.frozensets(st.integers(1, 4)),
    primary_optime=st.integers(0, 2000),
)
def test_lag_comes_only_from_reachable_secondaries_and_is_never_negative(
    optimes: dict[int, int], unreachable: frozenset[int], primary_optime: int
) -> None:
    roles = {o: ("DOWN" if o in unreachable else "SECONDARY") for o in optimes} | {0: "PRIMARY"}
    samples = list(instance_samples(reading(roles, optimes=optimes | {0: primary_optime}, unreachable=unreachable)))
    lag = values(samples, "fedstate_instance_replication_lag_seconds")
    reachable = {o for o in optimes if o not in unreachable}
    assert set(lag) == {c for c, os in SPLIT.items() if reachable & set(os)}
    for cluster, seconds in lag.items():
        behind = [max(0, primary_optime - optimes[o]) for o in SPLIT[cluster] if o in reachable]
        assert max(behind) == seconds


@given(roles=roles_strategy)
def test_labels_are_bounded_names_never_member_ordinals(roles: dict[int, str]) -> None:
    split = {"a": [o for o in roles if o % 2], "b": [o for o in roles if not o % 2]}
    for sample in instance_samples(reading(roles, split)):
        assert set(sample.labels) <= ALLOWED_LABELS
        assert sample.family in FAMILIES
