"""While something asked of the agent is left to do or to retry, it looks again soon, and later after each pass
that saw nothing new, never later than the cap; while all that is left is members here coming up (they say when
they move), it looks again only as a safety net; a steady instance waits for the resync; any change starts over
at the shortest delay (the reconciler resets the count)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fedstate.models.base import utcnow
from fedstate.models.dataplane import Condition, DataPlaneStatus, MemberObservation, ReplsetMemberView
from fedstate.reconcile import RESYNC_SPREAD
from fedstate_agent.mongo import MemberState, settled
from fedstate_agent.reconciler import (
    BUSY_REQUEUE_SECONDS,
    MAX_BUSY_REQUEUE_SECONDS,
    MAX_MOVING_REQUEUE_SECONDS,
    MOVING_REQUEUE_SECONDS,
    requeue_for,
)

from .test_rendering_changes_roll_members import spec

RESYNC_SECONDS = 30.0


def report(role: str) -> DataPlaneStatus:
    member = MemberObservation(ordinal=0, name="rs-m0", pod_phase="Running", ready=True, role=role, revision="rs-abc")
    return DataPlaneStatus(cluster="member-1", initiated=True, users_ready=True, members=[member], observed_at=utcnow())


FAILED = Condition(type="rsReconfig", status="False", reason="Retrying", message="No servers found yet")


def delay(role: str, passes_unchanged: int, *, failed: bool = False) -> float:
    looked = report(role).model_copy(update={"conditions": [FAILED] if failed else []})
    after = requeue_for(looked, spec(initiator=False), RESYNC_SECONDS, passes_unchanged).requeue_after
    assert after is not None
    return after


@given(st.integers(min_value=0, max_value=1_000))
def test_a_busy_instance_backs_off_to_the_cap_and_never_faster(passes: int) -> None:
    assert BUSY_REQUEUE_SECONDS <= delay("STARTUP2", passes, failed=True) <= MAX_BUSY_REQUEUE_SECONDS
    assert delay("STARTUP2", passes, failed=True) <= delay("STARTUP2", passes + 1, failed=True)


def test_the_first_look_is_soon_and_the_cap_is_reached() -> None:
    assert BUSY_REQUEUE_SECONDS == delay("STARTUP2", 0, failed=True)
    assert MAX_BUSY_REQUEUE_SECONDS == delay("STARTUP2", 50, failed=True)


@given(st.integers(min_value=0, max_value=1_000))
def test_members_here_coming_up_are_looked_at_again_only_as_a_safety_net(passes: int) -> None:
    """A member syncing tells its watch when it is done: until then a look-again finds nothing new."""
    assert MOVING_REQUEUE_SECONDS <= delay("STARTUP2", passes) <= MAX_MOVING_REQUEUE_SECONDS
    assert delay("STARTUP2", passes) <= delay("STARTUP2", passes + 1)
    assert MOVING_REQUEUE_SECONDS == delay("STARTUP2", 0)
    assert MAX_MOVING_REQUEUE_SECONDS == delay("STARTUP2", 50)


@given(st.integers(min_value=0, max_value=1_000))
def test_a_steady_instance_waits_for_the_resync(passes: int) -> None:
    assert resynced(delay("PRIMARY", passes))


def test_an_instance_whose_reconfig_failed_is_looked_at_again_soon() -> None:
    """Every member here is healthy, but the replSetReconfig asked of the initiator failed (its primary did not
    answer in time): retried soon, not at the resync."""
    failed = Condition(type="rsReconfig", status="False", reason="Retrying", message="No servers found yet")
    reconfiguring = report("PRIMARY").model_copy(update={"conditions": [failed]})
    assert BUSY_REQUEUE_SECONDS == requeue_for(reconfiguring, spec(initiator=True), RESYNC_SECONDS).requeue_after
    done = failed.model_copy(update={"type": "rsInit", "status": "True", "reason": "Initiated"})
    initiated = report("PRIMARY").model_copy(update={"conditions": [done]})
    assert resynced(requeue_for(initiated, spec(initiator=True), RESYNC_SECONDS).requeue_after)


def resynced(after: float | None) -> bool:
    return after is not None and RESYNC_SECONDS * (1 - RESYNC_SPREAD) <= after <= RESYNC_SECONDS * (1 + RESYNC_SPREAD)


def test_steady_instances_do_not_all_come_back_at_once() -> None:
    """A fleet created together is looked at again spread over the period, not in one burst every period."""
    delays = {round(delay("PRIMARY", 0), 3) for _ in range(100)}
    assert len(delays) > 50, delays


def primary_seeing(*rows: tuple[str, int]) -> DataPlaneStatus:
    """A report of a cluster holding the PRIMARY whose replSetGetStatus shows members elsewhere as ``rows``."""
    view = [ReplsetMemberView(id=0, host="h0", state=1, state_str="PRIMARY", health=1)]
    view += [ReplsetMemberView(id=i, host=f"h{i}", state=0, state_str=s, health=h) for i, (s, h) in enumerate(rows, 1)]
    return report("PRIMARY").model_copy(update={"replset": view})


def test_the_primary_s_agent_keeps_looking_while_a_member_elsewhere_catches_up() -> None:
    """Until the member in initial sync is a SECONDARY, the PRIMARY's view cannot show its lag: look again soon."""
    syncing = requeue_for(primary_seeing(("STARTUP2", 1)), spec(initiator=False), RESYNC_SECONDS)
    assert BUSY_REQUEUE_SECONDS == syncing.requeue_after


def test_a_member_the_primary_cannot_reach_does_not_keep_its_agent_busy() -> None:
    """A member down (a failed cluster) is no reason to ask the PRIMARY again and again."""
    down = requeue_for(
        primary_seeing(("SECONDARY", 1), ("(not reachable/healthy)", 0)), spec(initiator=False), RESYNC_SECONDS
    )
    assert resynced(down.requeue_after)


def test_a_primary_s_view_is_worth_reusing_only_once_every_member_is_healthy() -> None:
    def state(view: list[ReplsetMemberView]) -> MemberState:
        return MemberState(True, "PRIMARY", True, None, view)

    healthy = primary_seeing(("SECONDARY", 1), ("ARBITER", 1)).replset
    assert settled(state(healthy))
    assert not settled(state(primary_seeing(("STARTUP2", 1)).replset))
    assert not settled(state(primary_seeing(("(not reachable/healthy)", 0)).replset))
    assert settled(MemberState(True, "SECONDARY", True, None, primary_seeing(("STARTUP2", 1)).replset))


@given(st.integers(min_value=0, max_value=1_000), st.floats(min_value=0.05, max_value=10))
def test_a_primary_s_view_catching_up_is_looked_at_one_heartbeat_later(passes: int, heartbeat: float) -> None:
    """All that is left is the PRIMARY's view of a member elsewhere: it changes with the set's next heartbeat,
    so the next look is one heartbeat away (backing off from there), never later than a busy instance's."""
    catching_up = primary_seeing(("STARTUP2", 1))
    first = requeue_for(catching_up, spec(initiator=False), RESYNC_SECONDS, 0, heartbeat).requeue_after
    assert first == min(heartbeat, BUSY_REQUEUE_SECONDS)
    later = requeue_for(catching_up, spec(initiator=False), RESYNC_SECONDS, passes, heartbeat).requeue_after
    assert later is not None and first <= later <= delay("STARTUP2", passes)


def test_a_member_still_moving_here_is_not_looked_at_every_heartbeat() -> None:
    """A member of ours still in initial sync is followed by its own watch, not by the heartbeat."""
    moving = requeue_for(report("STARTUP2"), spec(initiator=False), RESYNC_SECONDS, 0, 0.1)
    assert MOVING_REQUEUE_SECONDS == moving.requeue_after
