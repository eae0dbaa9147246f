"""A lease reader judges each renewal alone, and every lease when the earliest can have expired: its cost per
renewal does not grow with the fleet, and a silent holder among busy ones is still told silent."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from fedstate.bus.connection import Bus
from fedstate.bus.names import LeaseHolder, lease_key
from fedstate.liveness import Liveness, renew_lease
from fedstate.models.base import utcnow
from fedstate.models.lease import Lease


async def until(check: Callable[[], bool], attempts: int = 1000) -> None:
    for _ in range(attempts):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


def lease(holder: str) -> Lease:
    return Lease(holder=holder, component=LeaseHolder.AGENT, renewed_at=utcnow(), renew_every_seconds=5)


async def test_one_renewal_looks_at_one_lease(bus: Bus, monkeypatch: pytest.MonkeyPatch) -> None:
    """Five holders, one renews: its lease alone is judged (the threshold is far away)."""
    prefix = f"alone{uuid.uuid4().hex[:6]}"
    holders = [f"{prefix}-{k}" for k in range(5)]
    for holder in holders:
        await bus.leases.put(lease_key(LeaseHolder.AGENT, holder), lease(holder))
    liveness = Liveness(bus.leases, LeaseHolder.AGENT, timedelta(seconds=60), lambda c, alive: None)
    await liveness.start()
    judging = asyncio.create_task(liveness.run())
    judged: list[str] = []
    alive = Lease.alive

    def counted(self: Lease, now: datetime, threshold: timedelta) -> bool:
        judged.append(self.holder)
        return alive(self, now, threshold)

    monkeypatch.setattr(Lease, "alive", counted)
    await bus.leases.put(lease_key(LeaseHolder.AGENT, holders[2]), lease(holders[2]))
    await until(lambda: bool(judged))
    judging.cancel()
    await asyncio.gather(judging, return_exceptions=True)
    assert [holders[2]] == judged


async def test_a_silent_holder_among_renewing_ones_is_told_silent(bus: Bus) -> None:
    """Renewals of others keep waking the reader; the silent one's expiry is still judged."""
    prefix = f"among{uuid.uuid4().hex[:6]}"
    quiet, busy = f"{prefix}-quiet", f"{prefix}-busy"
    transitions: list[tuple[str, bool]] = []
    liveness = Liveness(
        bus.leases, LeaseHolder.AGENT, timedelta(seconds=0.5), lambda c, alive: transitions.append((c, alive))
    )
    renewing = [asyncio.create_task(renew_lease(bus.leases, LeaseHolder.AGENT, h, 0.1)) for h in (quiet, busy)]
    for holder in (quiet, busy):
        for _ in range(1000):  # until both have renewed once: the reader starts from what exists
            if await bus.leases.get(lease_key(LeaseHolder.AGENT, holder)) is not None:
                break
            await asyncio.sleep(0.01)
    await liveness.start()
    judging = asyncio.create_task(liveness.run())
    renewing[0].cancel()
    await until(lambda: (quiet, False) in transitions)
    for task in (*renewing, judging):
        task.cancel()
    await asyncio.gather(*renewing, judging, return_exceptions=True)
    assert (busy, False) not in transitions
