"""Fencing: a leader whose lease was taken over has its work's writes refused before they reach NATS, and its next
renewal fails; a leader's writes carry its term. Two replicas on one clock that the test moves; a real NATS."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import pytest
from nats.errors import TimeoutError as NatsTimeoutError

from fedstate.bus.connection import Bus
from fedstate.bus.names import Bucket, Elected, kv_subject
from fedstate.leadership import LEADER_HEADER, Deposed, Leadership, LeaderTiming, Verdict
from fedstate.models.base import utcnow
from fedstate.models.lease import Lease

TIMING = LeaderTiming(duration=15, renew_deadline=10, retry=2)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def lease(note: str) -> Lease:
    return Lease(holder=note, component="test", renewed_at=utcnow(), renew_every_seconds=1)


@pytest.fixture
def pair(bus: Bus) -> tuple[Leadership, Leadership, Clock]:
    clock, tenant = Clock(), f"fence{uuid.uuid4().hex[:8]}"
    a, b = (Leadership(bus.leaders, Elected.SCHEDULER, me, TIMING, clock, tenant=tenant) for me in ("a", "b"))
    return a, b, clock


async def test_a_leader_cut_off_is_refused_once_another_took_over(bus: Bus, pair: tuple[Leadership, ...]) -> None:
    a, b, clock = pair
    assert Verdict.TAKE_OVER == await a.step()
    assert Verdict.WAIT == await b.step()
    written = bus.fenced(a.fence)
    await written.leases.put("fence-test.a", lease("while leading"))
    entry = await bus.leases.get("fence-test.a")
    assert entry is not None and f"a@{a.term}" == entry.headers[LEADER_HEADER]

    clock.now += TIMING.duration  # a renews no more (cut off from NATS, or paused); b still looks
    assert Verdict.TAKE_OVER == await b.step()
    with pytest.raises(Deposed):
        await written.leases.put("fence-test.a", lease("after the takeover"))
    entry = await bus.leases.get("fence-test.a")
    assert entry is not None and "while leading" == entry.value.holder

    assert Verdict.LEAD == await b.step()
    assert b.leading and not a.leading
    assert Verdict.WAIT == await a.step()  # a comes back: it sees b's lease and stands by
    assert not a.leading and a.term is None
    stored = await bus.leaders.get(b.key)
    assert stored is not None and "b" == stored.value.holder and 1 == stored.value.transitions


async def test_a_leader_that_cannot_renew_stops_writing_before_anyone_may_take_over(
    pair: tuple[Leadership, ...],
) -> None:
    a, b, clock = pair
    await a.step()
    await b.step()
    clock.now += TIMING.renew_deadline  # a's renewals failed for this long: it stops, b does not take over yet
    assert not a.leading
    assert Verdict.WAIT == await b.step()


async def test_an_unreadable_lease_is_taken_over_not_a_crash(bus: Bus, pair: tuple[Leadership, ...]) -> None:
    a, _, _ = pair
    await bus.js.publish(kv_subject(Bucket.LEASES, a.key), b"not an envelope")
    assert Verdict.TAKE_OVER == await a.step()
    assert a.leading
    stored = await bus.leaders.get(a.key)
    assert stored is not None and "a" == stored.value.holder


async def test_a_clean_stop_hands_the_lease_over_at_the_next_look(pair: tuple[Leadership, ...]) -> None:
    a, b, _ = pair
    await a.step()
    await b.step()
    await a.release()
    assert Verdict.TAKE_OVER == await b.step()
    assert b.leading


async def started_again_after(bus: Bus, first_start: Callable[[], Awaitable[None]]) -> Leadership:
    """Campaign with a work whose first start ends as ``first_start`` does; return once the campaign has started
    it a second time (without ending itself), the campaign then cancelled."""
    fast = LeaderTiming(duration=1.5, renew_deadline=1.0, retry=0.1)
    leadership = Leadership(bus.leaders, Elected.SCHEDULER, "solo", fast, tenant=f"fence{uuid.uuid4().hex[:8]}")
    started, again = asyncio.Event(), asyncio.Event()

    async def work() -> None:
        if started.is_set():
            again.set()
            await asyncio.Event().wait()
        started.set()
        await first_start()

    campaign = asyncio.create_task(leadership.lead(work))
    try:
        await asyncio.wait_for(again.wait(), timeout=30)
        assert not campaign.done()
    finally:
        campaign.cancel()
        await asyncio.gather(campaign, return_exceptions=True)
    return leadership


async def test_work_that_meets_the_fence_is_started_again_not_the_service_s_end(bus: Bus) -> None:
    """A loop of the leader's work outside the controller's retries met the fence (a stalled leader): the work
    stops, the campaign goes on and starts it again once this replica leads again."""

    async def refused() -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(asyncio.sleep(0))
            raise Deposed("a write refused")

    leadership = await started_again_after(bus, refused)
    assert await bus.leaders.get(leadership.key) is None  # released on the way out


async def test_work_that_meets_a_bus_timeout_is_started_again_not_the_service_s_end(bus: Bus) -> None:
    """The work's first start met a bus timeout (a NATS cluster electing a leader under load: found by CI, where a
    scheduler died this way and nothing was ever placed): the campaign starts it again."""

    async def timed_out() -> None:
        raise NatsTimeoutError

    await started_again_after(bus, timed_out)


async def test_a_leader_restarted_under_its_stable_name_takes_its_lease_back_at_once(bus: Bus) -> None:
    """A pod's container restarted after a crash (same pod name): its predecessor is gone, so the lease it held
    is its own at once, not after the lease's duration; another replica still waits."""
    clock, tenant = Clock(), f"fence{uuid.uuid4().hex[:8]}"
    crashed = Leadership(bus.leaders, Elected.SCHEDULER, "scheduler-0", TIMING, clock, tenant=tenant)
    other = Leadership(bus.leaders, Elected.SCHEDULER, "scheduler-1", TIMING, clock, tenant=tenant)
    assert Verdict.TAKE_OVER == await crashed.step()
    restarted = Leadership(bus.leaders, Elected.SCHEDULER, "scheduler-0", TIMING, clock, tenant=tenant)
    assert Verdict.LEAD == await restarted.step()
    assert restarted.leading
    assert Verdict.WAIT == await other.step()
