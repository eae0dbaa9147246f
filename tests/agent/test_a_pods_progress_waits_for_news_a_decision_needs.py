"""A report whose only news is progress no decision of the federation reads — a pod's phase, node, run, revision,
message, the StatefulSet's current revision, the agent's own conditions — is held back up to
``PROGRESS_HOLD_SECONDS`` and goes with the next news a decision needs (a member ready, a role, an address, a
version, the set's state), which is told at once. A member
coming up is then one report instead of four (created, bound, running, ready), each of which cost a write, an
orchestrator pass and CPU the pass towards initiation was waiting for; a pod that stays on its way is still told,
that much later."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedstate.bus.names import InstanceKey, Kind
from fedstate.models.base import Condition, utcnow
from fedstate.models.dataplane import Credentials, DataPlaneStatus, MemberObservation, MemberSpec
from fedstate.models.multicloud import MultiCloudMongoDB
from fedstate.replset.lifecycle import ClusterPlan
from fedstate_agent.reconciler import PROGRESS_HOLD_SECONDS, ProgressHold, is_news, news_in, progress_only

from .conftest import CLUSTER, Agent, hand_over

KEY = "member-1.default.default.rs"
POD_STARTUP_SECONDS = 3 * PROGRESS_HOLD_SECONDS


def starting(**member: object) -> DataPlaneStatus:
    """One cluster's report of a member whose pod is on its way."""
    fields = {"ordinal": 0, "name": "rs-m0", "address": "127.0.1.1:30001"} | member
    return DataPlaneStatus(
        cluster="member-1", generation=1, revision="rs-1", members=[MemberObservation(**fields)], observed_at=utcnow()
    )


PROGRESS = st.fixed_dictionaries(
    {},
    optional={
        "pod_phase": st.sampled_from(["Pending", "Running", "Failed"]),
        "node": st.sampled_from(["node-1", "node-2"]),
        "incarnation": st.sampled_from(["uid-1/0", "uid-1/1", "uid-2/0"]),
        "revision": st.sampled_from(["rs-1", "rs-2"]),
        "message": st.sampled_from(["", "ContainerCreating"]),
    },
)
DECISIONS = st.sampled_from(
    [
        {"ready": True},
        {"role": "STARTUP"},
        {"address": "127.0.1.1:30002"},
        {"version": "7.0.5"},
    ]
)


@given(PROGRESS, PROGRESS)
def test_a_pod_s_progress_alone_is_progress_after_a_report_and_as_a_first_report(a: dict, b: dict) -> None:
    assert progress_only(starting(**a), starting(**b))
    assert progress_only(None, starting(**b))
    assert progress_only(starting(**a), starting(**b).model_copy(update={"current_revision": "rs-0"}))
    # What the agent did or failed to do is for operators; the agent acts on the report it builds itself.
    failed = Condition(type="rsInit", status="False", reason="InitiateFailed", message="not all members answer")
    assert progress_only(starting(**a), starting(**b).model_copy(update={"conditions": [failed]}))
    assert progress_only(None, starting(**b).model_copy(update={"conditions": [failed]}))


@given(PROGRESS, PROGRESS, DECISIONS)
def test_news_a_decision_needs_is_never_progress_whatever_comes_with_it(a: dict, b: dict, decision: dict) -> None:
    assert not progress_only(starting(**a), starting(**(b | decision)))
    if "address" not in decision:  # a first report names its members' addresses: they are waited on, not news
        assert not progress_only(None, starting(**(b | decision)))
    for change in ({"initiated": True}, {"users_ready": True}):
        assert not progress_only(starting(**a), starting(**b).model_copy(update=change))
        assert not progress_only(None, starting(**b).model_copy(update=change))
    assert not progress_only(starting(**a), starting(**b).model_copy(update={"generation": 2}))


@given(st.lists(st.floats(min_value=0, max_value=0.2), min_size=1, max_size=30))
def test_progress_is_held_no_longer_than_the_hold_from_its_first_pass(gaps: list[float]) -> None:
    """Passes at any pace: each returns how much longer to hold, until the hold is over; then it is told."""
    hold, published, now = ProgressHold(), starting(), 100.0
    first = now + gaps[0]
    for gap in gaps:
        now += gap
        left = hold.hold(KEY, published, starting(pod_phase="Pending"), now, news=True)
        if now - first < PROGRESS_HOLD_SECONDS:
            assert left is not None and abs(left - (first + PROGRESS_HOLD_SECONDS - now)) < 1e-9
        else:
            assert left is None
            return


def test_news_goes_at_once_and_starts_the_next_hold_afresh() -> None:
    hold, published = ProgressHold(), starting()

    def told(report: DataPlaneStatus, now: float) -> float | None:
        return hold.hold(KEY, published, report, now, news=is_news(published, report))

    assert told(starting(pod_phase="Pending"), 100.0) == PROGRESS_HOLD_SECONDS
    assert told(starting(pod_phase="Running", ready=True), 100.1) is None
    assert told(starting(pod_phase="Pending"), 100.2) == PROGRESS_HOLD_SECONDS
    # Back to what was published: nothing to tell, nothing held.
    assert told(starting(), 100.3) is None
    assert told(starting(node="node-1"), 100.4) == PROGRESS_HOLD_SECONDS


@pytest.mark.parametrize("agent", [POD_STARTUP_SECONDS], indirect=True)
async def test_a_pod_on_its_way_is_told_once_the_hold_is_over_and_never_sooner(agent: Agent) -> None:
    """The agent's own passes against the simulator, its pod taking longer to start than the hold lasts."""
    name = f"progress-{uuid.uuid4().hex[:6]}"
    key = InstanceKey("default", "default", Kind.MULTICLOUD_MONGODB, name)
    obj = MultiCloudMongoDB.model_validate(
        {"metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}", "generation": 1}, "spec": {}}
    )
    plan = ClusterPlan(CLUSTER, [MemberSpec(ordinal=0, name=f"{name}-m0")], True, None)
    await hand_over(agent, key, obj, plan, Credentials.generate())
    handed = time.monotonic()
    seen: list[tuple[float, DataPlaneStatus]] = []
    while time.monotonic() - handed < 5 * POD_STARTUP_SECONDS:
        await agent.reconciler.reconcile(key.dataplane_key(CLUSTER))
        entry = agent.observed.get(key.dataplane_key(CLUSTER))
        if entry is not None and (not seen or entry.value != seen[-1][1]):
            seen.append((time.monotonic(), entry.value))
        if seen and seen[-1][1].members[0].ready:
            break
        await asyncio.sleep(0.02)
    assert seen and seen[-1][1].members[0].ready, "the member was never reported ready"
    first_at, first = seen[0]
    assert first_at - handed >= PROGRESS_HOLD_SECONDS, "a pod on its way was reported before the hold was over"
    assert first.members[0].pod_phase != "Absent" and not first.members[0].ready, first.members[0]
    told_early = [
        f"{b_at - a_at:.3f} s after the report before: {news_in(a, b)}"
        for (a_at, a), (b_at, b) in itertools.pairwise(seen)
        if progress_only(a, b) and b_at - a_at < PROGRESS_HOLD_SECONDS
    ]
    assert [] == told_early
