"""Kubernetes-Event-like records on the ``FS_EVENTS`` stream: for humans and audit, never for state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nats.js import JetStreamContext

from fedstate import telemetry
from fedstate.models.base import utcnow
from fedstate.models.events import Event

from . import metrics
from .envelope import InvalidValue, decode, encode
from .names import EVENTS_STREAM, InstanceKey, events_filter
from .streams import every_message

if TYPE_CHECKING:
    from .deadletters import DeadLetters

__all__ = ["Event", "emit", "publish", "recent"]


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
    await publish(js, instance.events_subject, event)


async def publish(js: JetStreamContext, subject: str, event: Event) -> None:
    headers: dict[str, str] = {}
    telemetry.inject(headers)
    try:
        await js.publish(subject, encode(event), headers=headers)
    except Exception:
        metrics.PUBLISH_ERRORS.labels(EVENTS_STREAM).inc()
        raise


async def recent(
    js: JetStreamContext,
    instance: InstanceKey | None = None,
    limit: int = 200,
    dead_letters: DeadLetters | None = None,
) -> list[Event]:
    """The newest ``limit`` events, oldest first, for one instance or all; one that cannot be read is skipped (and
    handed to ``dead_letters``)."""
    events: list[Event] = []
    async for msg in every_message(js, EVENTS_STREAM, events_filter(instance)):
        try:
            events.append(decode(msg.data, Event))
        except InvalidValue as exc:
            if dead_letters is not None:
                await dead_letters.keep(EVENTS_STREAM, msg.subject, msg.metadata.sequence.stream, msg.data, exc)
    return events[-limit:]
