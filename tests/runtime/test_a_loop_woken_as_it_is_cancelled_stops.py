"""A service's waiting loops stop when cancelled, even when the thing they wait for happens in the same instant.

On Python 3.11, ``asyncio.wait_for(event.wait(), timeout)`` returns normally when the event is set in the loop
iteration that cancels the task, and the cancellation is lost (CPython gh-86296). The federation's agent-lease
reader is woken by every renewal (twenty a second at 100 clusters): under load, the leader's work was cancelled
at such an instant, never stopped, and the federation never led again (4,700 refused writes and a create that
did not finish, at 100 x 1,000). The loops wait with ``asyncio.timeout`` instead."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from fedstate.bus.connection import Bus
from fedstate.bus.names import LeaseHolder, lease_key
from fedstate.liveness import Liveness
from fedstate.models.base import utcnow
from fedstate.models.lease import Lease
from fedstate.reconcile import Controller, Result

STOPS_WITHIN_SECONDS = 3.0


async def test_a_controller_closed_as_its_key_is_enqueued_stops_and_reconciles_no_more() -> None:
    passes: list[str] = []
    passed = asyncio.Event()

    async def reconcile(key: str) -> Result:
        passes.append(key)
        passed.set()
        return Result(requeue_after=60)  # the worker then waits, woken early only by an enqueue

    controller = Controller(f"stopping-{uuid.uuid4().hex[:6]}", reconcile)
    controller.enqueue("k")
    await passed.wait()
    await asyncio.sleep(0.05)  # the worker waits for its requeue now
    controller.enqueue("k")  # wakes it, in the same iteration as the cancellation below
    async with asyncio.timeout(STOPS_WITHIN_SECONDS):
        await controller.close()
    assert ["k"] == passes


async def test_a_lease_reader_woken_as_it_is_cancelled_stops(bus: Bus) -> None:
    holder = f"woken-{uuid.uuid4().hex[:6]}"
    renewed = Lease(holder=holder, component=LeaseHolder.AGENT, renewed_at=utcnow(), renew_every_seconds=5)
    await bus.leases.put(lease_key(LeaseHolder.AGENT, holder), renewed)  # so it waits with a timeout, till expiry
    liveness = Liveness(bus.leases, LeaseHolder.AGENT, timedelta(seconds=60), lambda cluster, alive: None)
    await liveness.start()
    judging = asyncio.create_task(liveness.run())
    await asyncio.sleep(0.05)  # it waits for a renewal now
    liveness._changed(lease_key(LeaseHolder.AGENT, holder), None)  # a renewal, as its cache tells it
    judging.cancel()
    async with asyncio.timeout(STOPS_WITHIN_SECONDS):
        await asyncio.gather(judging, return_exceptions=True)
    assert judging.cancelled()
