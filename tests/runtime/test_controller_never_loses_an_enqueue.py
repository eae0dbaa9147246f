"""The work queue runs a key again when it is enqueued mid-pass, serially per key, and retries failures."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY

from fedstate.leadership import Deposed
from fedstate.reconcile import DONE, PERSISTENT_FAILURES, TRACED_PASSES, Controller, Result, resync_after
from tests.spans import in_memory_spans


async def test_an_enqueue_during_a_pass_runs_the_key_again_at_once_despite_a_long_requeue() -> None:
    passes: list[str] = []
    in_pass = asyncio.Event()

    async def reconcile(key: str) -> Result:
        passes.append(key)
        if len(passes) == 1:
            in_pass.set()
            await asyncio.sleep(0.05)
        return Result(requeue_after=60)

    controller = Controller("test", reconcile)
    controller.enqueue("a")
    await in_pass.wait()
    controller.enqueue("a")
    await asyncio.sleep(0.2)
    await controller.close()
    assert ["a", "a"] == passes


async def test_one_key_is_never_reconciled_twice_at_the_same_time() -> None:
    running = 0
    most = 0

    async def reconcile(key: str) -> Result:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.01)
        running -= 1
        return DONE

    controller = Controller("test", reconcile)
    for _ in range(20):
        controller.enqueue("same")
        await asyncio.sleep(0.003)
    await asyncio.sleep(0.1)
    await controller.close()
    assert 1 == most


async def test_a_failing_reconcile_is_retried_with_backoff() -> None:
    attempts = 0

    async def reconcile(key: str) -> Result:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise RuntimeError("transient")
        return DONE

    controller = Controller("test", reconcile, base_backoff=0.01)
    controller.enqueue("k")
    await asyncio.sleep(0.3)
    await controller.close()
    assert 3 == attempts
    assert 0 == controller.pending


async def test_the_queue_depth_counts_the_keys_waiting_in_every_controller_of_a_name() -> None:
    """``fedstate_queue_depth`` is what waits: keys enqueued while every worker slot is busy, summed over the
    controllers that share a name (clusters served by one process each have their own)."""
    release = asyncio.Event()

    async def reconcile(key: str) -> Result:
        await release.wait()
        return DONE

    def depth() -> float | None:
        return REGISTRY.get_sample_value("fedstate_queue_depth", {"controller": "depth-test"})

    first = Controller("depth-test", reconcile, max_concurrency=1)
    second = Controller("depth-test", reconcile, max_concurrency=1)
    for key in ("a", "b", "c"):
        first.enqueue(key)
    second.enqueue("d")
    second.enqueue("e")
    await asyncio.sleep(0.05)
    assert 3 == depth()  # "a" and "d" are being reconciled: b, c and e wait
    release.set()
    await asyncio.sleep(0.05)
    assert 0 == depth()
    await first.close()
    await second.close()


CAUSED_BY = 0x4BF92F3577B34DA6A3CE929D0E0E4736
TRACEPARENT = {"traceparent": f"00-{CAUSED_BY:032x}-00f067aa0ba902b7-01"}


async def traces_of_passes(name: str, results: list[Result], headers: dict[str, str] = TRACEPARENT) -> list[int]:
    """The trace id of each pass of one key enqueued once with ``headers``, its passes returning ``results``."""
    spans = in_memory_spans()
    returned = iter(results)

    async def reconcile(key: str) -> Result:
        return next(returned, DONE)

    controller = Controller(name, reconcile)
    controller.enqueue("k", headers)
    await asyncio.sleep(0.05 + 0.01 * len(results))
    await controller.close()
    return [s.context.trace_id for s in spans.get_finished_spans() if s.name == f"reconcile {name}"]


async def test_passes_while_busy_continue_the_trace_of_the_change_until_it_settles_and_a_resync_does_not() -> None:
    busy = Result(requeue_after=0.001)
    traces = await traces_of_passes("trace-test", [busy, busy, resync_after(0.001)])
    assert 4 <= len(traces)
    assert [CAUSED_BY] * 3 == traces[:3]  # the change, then two passes while busy with it: one trace
    assert CAUSED_BY not in traces[3:]  # the change settled: the resync after it is a trace of its own


async def test_a_key_that_never_settles_stops_growing_its_change_trace() -> None:
    busy = Result(requeue_after=0.001)
    traces = await traces_of_passes("never-settles", [busy] * (TRACED_PASSES + 5))
    assert TRACED_PASSES == traces.count(CAUSED_BY)


async def test_a_change_without_trace_context_keeps_the_trace_being_followed() -> None:
    spans = in_memory_spans()
    passes = 0
    second_change = asyncio.Event()

    async def reconcile(key: str) -> Result:
        nonlocal passes
        passes += 1
        if passes == 1:
            second_change.set()
            return Result(requeue_after=60)
        return DONE

    controller = Controller("untraced-change", reconcile)
    controller.enqueue("k", TRACEPARENT)
    await second_change.wait()
    controller.enqueue("k", {"Nats-Expected-Last-Subject-Sequence": "3"})
    await asyncio.sleep(0.05)
    await controller.close()
    traces = [s.context.trace_id for s in spans.get_finished_spans() if s.name == "reconcile untraced-change"]
    assert [CAUSED_BY, CAUSED_BY] == traces


async def test_a_refused_connection_or_a_timeout_is_a_warning_until_it_persists(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A member cluster's API refusing, a NATS ack timing out, or a leader's write fenced while its lease is not
    renewed, is retried: a warning each of the first four times, an error (with its traceback) from the fifth in
    a row; any other exception is an error at once."""
    import nats.errors

    troubles: list[Exception] = [
        ConnectionRefusedError(111, "Connect call failed"),
        nats.errors.TimeoutError(),
        Deposed("federation does not hold the federation lease (any more): write refused"),
        TimeoutError(),
        ConnectionRefusedError(111, "Connect call failed"),
        ValueError("a bug"),
    ]

    async def reconcile(key: str) -> Result:
        if troubles:
            raise troubles.pop(0)
        return DONE

    controller = Controller("test-trouble", reconcile, base_backoff=0.001, max_backoff=0.001)
    with caplog.at_level("WARNING", logger="fedstate.reconcile"):
        controller.enqueue("k")
        for _ in range(200):
            if not troubles and controller.pending == 0:
                break
            await asyncio.sleep(0.01)
    await controller.close()
    levels = [(r.levelname, r.exc_info is not None) for r in caplog.records if r.name == "fedstate.reconcile"]
    assert levels == [("WARNING", False)] * 4 + [("ERROR", True), ("ERROR", True)]


async def test_an_outage_failing_every_key_is_one_error_not_one_per_key(caplog: pytest.LogCaptureFixture) -> None:
    """A member cluster down fails the passes of each of its instances: the controller tells that as an error
    once, with its traceback, and every other key's persistent failure as a warning."""
    keys = [f"k{i}" for i in range(3)]
    failures = dict.fromkeys(keys, 2 * PERSISTENT_FAILURES)

    async def reconcile(key: str) -> Result:
        if failures[key]:
            failures[key] -= 1
            raise ConnectionRefusedError(111, "Connect call failed")
        return DONE

    controller = Controller("test-outage", reconcile, base_backoff=0.001, max_backoff=0.001)
    with caplog.at_level("WARNING", logger="fedstate.reconcile"):
        for key in keys:
            controller.enqueue(key)
        for _ in range(500):
            if not any(failures.values()) and controller.pending == 0:
                break
            await asyncio.sleep(0.01)
    await controller.close()
    records = [r for r in caplog.records if r.name == "fedstate.reconcile"]
    assert 3 * 2 * PERSISTENT_FAILURES == len(records)
    assert [True] == [r.exc_info is not None for r in records if r.levelname == "ERROR"]
