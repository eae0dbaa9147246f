"""Each reconcile pass says what started it — a change told (its key enqueued), the look-again its previous
pass asked for, or a retry after a failure — on its span and in ``fedstate_reconcile_triggers_total``: what an
operator reads to tell a loop that reacts from one that polls."""

from __future__ import annotations

import asyncio

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY

from fedstate.reconcile import Controller, Result
from fedstate.telemetry import TRIGGER
from tests.spans import in_memory_spans


def counted(controller: str, trigger: str) -> float:
    labels = {"controller": controller, "trigger": trigger}
    return REGISTRY.get_sample_value("fedstate_reconcile_triggers_total", labels) or 0.0


def triggers_of(spans: InMemorySpanExporter, controller: str) -> list[object]:
    """What started each pass of ``controller``, in order, as its spans say."""
    return [
        span.attributes.get(TRIGGER)
        for span in spans.get_finished_spans()
        if span.name == f"reconcile {controller}" and span.attributes is not None
    ]


async def test_a_pass_is_marked_change_requeue_or_retry() -> None:
    spans = in_memory_spans()
    outcomes = iter(["requeue", "fail", "done"])

    async def reconcile(key: str) -> Result:
        outcome = next(outcomes)
        if outcome == "fail":
            raise RuntimeError("the member did not answer")
        return Result(requeue_after=0.01 if outcome == "requeue" else None)

    controller = Controller("trigger-test", reconcile, base_backoff=0.01)
    controller.enqueue("k")
    for _ in range(100):
        await asyncio.sleep(0.02)
        if counted("trigger-test", "retry"):
            break
    await asyncio.sleep(0.05)
    await controller.close()
    assert ["change", "requeue", "retry"] == triggers_of(spans, "trigger-test")
    assert (1, 1, 1) == tuple(counted("trigger-test", t) for t in ("change", "requeue", "retry"))


async def test_a_key_enqueued_while_it_waits_to_look_again_runs_as_a_change() -> None:
    spans = in_memory_spans()

    async def reconcile(key: str) -> Result:
        return Result(requeue_after=60)

    controller = Controller("enqueued-test", reconcile)
    controller.enqueue("k")
    await asyncio.sleep(0.05)
    controller.enqueue("k")  # a watch told of a change long before the look-again is due
    await asyncio.sleep(0.05)
    await controller.close()
    assert ["change", "change"] == triggers_of(spans, "enqueued-test")
