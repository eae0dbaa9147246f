"""Kubernetes-Event-like records on the ``FS_EVENTS`` stream: for humans and audit, never for state."""

from __future__ import annotations

import contextlib
import json

from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import APIError, NotFoundError

from fedstate import telemetry
from fedstate.models.base import utcnow
from fedstate.models.events import Event

from . import metrics
from .envelope import decode, encode
from .names import EVENTS_STREAM, InstanceKey, events_filter

__all__ = ["Event", "emit", "recent"]


async def emit(
    js: JetStreamContext,
    instance: InstanceKey,
    *,
    reason: str,
    message: str,
    component: str,
    warning: bool = False,
) -> None:
    event = Event(
        instance=str(instance),
        type="Warning" if warning else "Normal",
        reason=reason,
        message=message,
        component=component,
        time=utcnow(),
    )
    headers: dict[str, str] = {}
    telemetry.inject(headers)
    try:
        await js.publish(instance.events_subject, encode(event), headers=headers)
    except Exception:
        metrics.PUBLISH_ERRORS.labels(EVENTS_STREAM).inc()
        raise


async def recent(js: JetStreamContext, instance: InstanceKey | None = None, limit: int = 200) -> list[Event]:
    """The newest ``limit`` events, oldest first, for one instance or all."""
    subscription = await js.pull_subscribe(
        events_filter(instance),
        stream=EVENTS_STREAM,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, inactive_threshold=30),
    )
    events: list[Event] = []
    try:
        while True:
            try:
                batch = await subscription.fetch(500, timeout=0.3)
            except TimeoutError:
                break
            for msg in batch:
                try:
                    events.append(decode(msg.data, Event))
                except (ValueError, json.JSONDecodeError):
                    continue
            # A short batch is not the end: a fresh consumer may hand out what it has so far. The last message
            # says how many are still pending after it.
            if not batch or batch[-1].metadata.num_pending == 0:
                break
    finally:
        await subscription.unsubscribe()
        # Deleted now, not left to expire: a busy reader would otherwise pile consumers up to the stream's limit.
        with contextlib.suppress(NotFoundError, APIError, TimeoutError):
            await js.delete_consumer(EVENTS_STREAM, subscription._consumer)  # type: ignore[attr-defined]
    return events[-limit:]
