"""The leader election's decision, as a pure function: who renews, who waits and who takes a lease over, and that
a leader stops writing before anyone may take its place (decision 0013)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedstate.leadership import LeaderTiming, Sighting, Verdict, judge, may_write
from fedstate.models.lease import LeaderLease

NOW = datetime(2026, 1, 1, tzinfo=UTC)
TIMING = LeaderTiming()


def held_by(holder: str, duration: float = TIMING.duration) -> LeaderLease:
    return LeaderLease(holder=holder, service="scheduler", duration_seconds=duration, acquired_at=NOW, renewed_at=NOW)


def test_nobody_holds_a_lease_that_is_absent_or_deleted() -> None:
    assert judge(None, "a", now=0.0) is Verdict.TAKE_OVER
    assert judge(Sighting(None, 7, seen_at=0.0), "a", now=0.0) is Verdict.TAKE_OVER


def test_the_holder_renews_and_the_others_wait_while_the_lease_keeps_changing() -> None:
    seen = Sighting(held_by("a"), 3, seen_at=100.0)
    assert judge(seen, "a", now=100.0 + 3600) is Verdict.LEAD  # the holder never waits on its own lease
    assert judge(seen, "b", now=100.0) is Verdict.WAIT
    assert judge(seen, "b", now=100.0 + TIMING.duration - 0.01) is Verdict.WAIT
    assert judge(seen, "b", now=100.0 + TIMING.duration) is Verdict.TAKE_OVER


def test_the_lease_s_own_duration_counts_not_the_waiting_replica_s() -> None:
    """A replica with other settings (a rolling change of the duration) waits as long as the holder promised."""
    seen = Sighting(held_by("a", duration=40.0), 3, seen_at=0.0)
    assert judge(seen, "b", now=TIMING.duration + 1) is Verdict.WAIT
    assert judge(seen, "b", now=40.0) is Verdict.TAKE_OVER


def test_timings_where_a_deposed_leader_could_still_write_are_refused() -> None:
    with pytest.raises(ValueError, match="must stop writing before another may take over"):
        LeaderTiming(duration=10, renew_deadline=10, retry=2)
    with pytest.raises(ValueError):
        LeaderTiming(duration=15, renew_deadline=10, retry=10)


def test_the_stated_takeover_bound_with_the_default_timing() -> None:
    assert 19.0 == TIMING.takeover_bound


@given(
    duration=st.floats(1.0, 60.0),
    deadline_share=st.floats(0.1, 0.99),
    renewed_at=st.floats(0.0, 1000.0),
    seen_after=st.floats(0.0, 2.0),
)
def test_no_moment_has_two_writers(
    duration: float, deadline_share: float, renewed_at: float, seen_after: float
) -> None:
    """From the first moment another replica may take the lease over, its last holder may no longer write: the
    holder times its renewal from before it was sent, the other from when it first saw it, at least as late (same
    clock rate). ``seen_after`` is in lease durations."""
    deadline = duration * deadline_share
    seen = Sighting(held_by("a", duration=duration), 5, seen_at=renewed_at + seen_after * duration)
    first_takeover = seen.seen_at + duration * (1 + 1e-9)  # (the float sum may round below the duration)
    assert judge(seen, "b", seen.seen_at + duration * 0.99) is Verdict.WAIT
    assert judge(seen, "b", first_takeover) is Verdict.TAKE_OVER
    assert not may_write(renewed_at, first_takeover, deadline)


def test_a_leader_writes_only_within_its_renew_deadline() -> None:
    assert not may_write(None, 0.0, TIMING.renew_deadline)  # never renewed: never led
    assert may_write(100.0, 100.0 + TIMING.renew_deadline - 0.01, TIMING.renew_deadline)
    assert not may_write(100.0, 100.0 + TIMING.renew_deadline, TIMING.renew_deadline)
