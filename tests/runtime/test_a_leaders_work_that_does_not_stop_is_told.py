"""Standing down waits for the leader's work to end (two works must never run side by side); a work that
outlives its cancellation is told as an error and cancelled again until it ends, not left running while its replica
never leads again."""

from __future__ import annotations

import asyncio
import logging

import pytest

from fedstate import leadership


async def stubborn(lingers: float) -> None:
    """A work that goes on for a while once cancelled (a clean-up that waits), then ends."""
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        await asyncio.sleep(lingers)


async def loses_its_cancellation(lost: list[str]) -> None:
    """A work that loses its first cancellation, as a 3.11 ``wait_for`` woken at that instant does, and goes on
    working as if never cancelled: only another cancellation ends it."""
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        lost.append("cancellation")
    await asyncio.Event().wait()


async def test_a_work_that_outlives_its_cancellation_is_waited_for_and_told(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(leadership, "STOP_TOLD_AFTER_SECONDS", 0.05)
    work = asyncio.create_task(stubborn(lingers=30), name="orchestrator-leader")
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR, logger="fedstate.leadership"):
        async with asyncio.timeout(5):
            await leadership._stop(work)
    assert work.done(), "standing down returned while the work still ran"
    (told,) = [r for r in caplog.records if "did not stop when cancelled" in r.getMessage()]
    assert "orchestrator-leader" == told.work  # type: ignore[attr-defined]


async def test_a_work_that_lost_its_cancellation_is_cancelled_again_until_it_ends(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(leadership, "STOP_TOLD_AFTER_SECONDS", 0.05)
    lost: list[str] = []
    work = asyncio.create_task(loses_its_cancellation(lost), name="federation-leader")
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR, logger="fedstate.leadership"):
        async with asyncio.timeout(5):
            await leadership._stop(work)
    assert ["cancellation"] == lost and work.cancelled()
    assert 1 == sum("did not stop when cancelled" in r.getMessage() for r in caplog.records)


async def test_a_work_that_stops_at_once_is_not_told(caplog: pytest.LogCaptureFixture) -> None:
    work = asyncio.create_task(asyncio.Event().wait())
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR, logger="fedstate.leadership"):
        await leadership._stop(work)
    assert work.cancelled() and not caplog.records
