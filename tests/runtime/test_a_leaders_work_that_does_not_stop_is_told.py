"""Standing down waits for the leader's work to end (two works must never run side by side), and a work that
outlives its cancellation is told as an error, not a replica that silently never leads again."""

from __future__ import annotations

import asyncio
import logging

import pytest

from fedstate import leadership


async def stubborn(stopped: asyncio.Event, lingers: float) -> None:
    """A work that loses its cancellation, as a 3.11 ``wait_for`` woken at that instant did, then ends later."""
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        await asyncio.sleep(lingers)
        stopped.set()


async def test_a_work_that_outlives_its_cancellation_is_waited_for_and_told(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(leadership, "STOP_TOLD_AFTER_SECONDS", 0.05)
    stopped = asyncio.Event()
    work = asyncio.create_task(stubborn(stopped, lingers=0.3), name="orchestrator-leader")
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR, logger="fedstate.leadership"):
        await leadership._stop(work)
    assert stopped.is_set(), "standing down returned while the work still ran"
    (told,) = [r for r in caplog.records if "did not stop when cancelled" in r.getMessage()]
    assert "orchestrator-leader" == told.work  # type: ignore[attr-defined]


async def test_a_work_that_stops_at_once_is_not_told(caplog: pytest.LogCaptureFixture) -> None:
    work = asyncio.create_task(asyncio.Event().wait())
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR, logger="fedstate.leadership"):
        await leadership._stop(work)
    assert work.cancelled() and not caplog.records
