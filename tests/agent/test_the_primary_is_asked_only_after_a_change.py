"""How the primary sees this cluster's members is asked again only after something changed here: a steady
set sends the agent to no primary in another cluster (``still_seen``)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fedstate.models.base import utcnow
from fedstate.models.dataplane import DataPlaneStatus, MemberObservation
from fedstate_agent.memberset import follows_the_primary, incarnation, still_seen

ROLES = st.sampled_from(["PRIMARY", "SECONDARY", "ARBITER", "STARTUP2", "RECOVERING", "DOWN", "UNKNOWN"])


def member(
    ordinal: int, role: str, seen: str = "", revision: str = "r1", ready: bool = True, run: str = "pod-a/0"
) -> MemberObservation:
    return MemberObservation(
        ordinal=ordinal,
        name=f"rs-m{ordinal}",
        address=f"10.0.0.1:{30000 + ordinal}",
        ready=ready,
        role=role,
        revision=revision,
        seen_by_primary=seen,
        incarnation=run,
    )


def report(*members: MemberObservation) -> DataPlaneStatus:
    return DataPlaneStatus(cluster="member-1", initiated=True, members=list(members), observed_at=utcnow())


def test_nothing_changed_and_the_primary_saw_them_healthy() -> None:
    before = report(member(0, "SECONDARY", "SECONDARY"), member(1, "ARBITER", "ARBITER"))
    assert {0: "SECONDARY", 1: "ARBITER"} == still_seen(before, [member(0, "SECONDARY"), member(1, "ARBITER")])


@given(ROLES, ROLES)
def test_a_member_whose_role_changed_is_asked_about_again(then: str, now: str) -> None:
    before = report(member(0, then, then))
    assert (still_seen(before, [member(0, now)]) is None) == (
        then != now or then not in {"PRIMARY", "SECONDARY", "ARBITER"}
    )


def test_a_restart_a_readiness_change_or_a_new_member_is_asked_about_again() -> None:
    before = report(member(0, "SECONDARY", "SECONDARY"))
    assert still_seen(before, [member(0, "SECONDARY", revision="r2")]) is None
    assert still_seen(before, [member(0, "SECONDARY", ready=False)]) is None
    assert still_seen(before, [member(0, "SECONDARY"), member(1, "SECONDARY")]) is None
    assert still_seen(None, [member(0, "SECONDARY")]) is None


def test_a_member_the_primary_did_not_see_healthy_is_asked_about_again() -> None:
    assert still_seen(report(member(0, "SECONDARY", "DOWN")), [member(0, "SECONDARY")]) is None
    assert still_seen(report(member(0, "SECONDARY", "")), [member(0, "SECONDARY")]) is None


RUNS = st.sampled_from(["", "pod-a/0", "pod-a/1", "pod-b/0"])
SEEN = st.sampled_from(["", "SECONDARY", "DOWN"])


@given(st.lists(st.tuples(RUNS, SEEN, RUNS), min_size=1, max_size=5))
def test_the_primary_is_followed_once_a_member_here_restarted(runs: list[tuple[str, str, str]]) -> None:
    """Members on their first run (a set being created, a member added) count as they say themselves; once one
    restarted — its pod's incarnation changed since the last report — the primary's view is read, and from then
    on (the report carries what the primary saw)."""
    before = report(*(member(o, "SECONDARY", seen, run=then) for o, (then, seen, _) in enumerate(runs)))
    now = [member(o, "SECONDARY", run=run) for o, (_, _, run) in enumerate(runs)]
    restarted = any(then not in ("", run) for then, _, run in runs)
    followed = any(seen for _, seen, _ in runs)
    assert follows_the_primary(before, now) == (restarted or followed)
    assert not follows_the_primary(None, now), "no report yet: every member is on its first run here"


def test_a_pod_s_incarnation_is_its_uid_and_restarts_and_outlives_its_absence() -> None:
    pod = {"metadata": {"uid": "u-1"}, "status": {"containerStatuses": [{"name": "mongod", "restartCount": 2}]}}
    assert "u-1/2" == incarnation(pod, None)
    assert "u-1/2" == incarnation(None, member(0, "DOWN", run="u-1/2")), "the pod is away: the last run known"
    assert "" == incarnation(None, None)
