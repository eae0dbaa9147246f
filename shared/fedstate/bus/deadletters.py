"""Dead letters: what a reader could not read, kept with why and announced as a Warning event.

A value a service cannot read (``InvalidValue``: not JSON, an unknown schema major, failing validation,
oversized) never stops it: the reader goes on with the next value and hands the bad one here. It is kept in
``FS_DEAD_LETTERS`` under the reader's own name, once per reader and revision (``Nats-Msg-Id``, within the
stream's duplicate window), and its first keeping is announced as a ``DeadLetter`` Warning event on the reader's
own events subject (``Event.instance`` ``_bus/<reader>/<source>``).

A flood of bad values cannot flood the events stream: each reader announces at most ``EVENT_BURST`` dead letters
at once and one per ``EVENT_INTERVAL_SECONDS`` after that (a token bucket, ``EventBudget``); the others are still
kept and counted (``fedstate_bus_dead_letters_total``), and the next announcement says how many were not.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from nats.errors import Error as NatsError
from nats.js import JetStreamContext

from fedstate.models.base import utcnow
from fedstate.models.events import Event

from . import events, metrics
from .envelope import InvalidValue
from .names import (
    BUS_EVENTS,
    DEAD_LETTER_BUCKET,
    DEAD_LETTER_CAUSE,
    DEAD_LETTER_KEY,
    DEAD_LETTER_REASON,
    DEAD_LETTER_REVISION,
    DEAD_LETTER_SIZE,
    DEAD_LETTERS_STREAM,
    MAX_DEAD_LETTER_BYTES,
    MAX_REASON_CHARACTERS,
    dead_letter_events_subject,
    dead_letter_reader,
    dead_letter_subject,
    dead_letters_all,
    dead_letters_of,
)
from .streams import every_message

log = logging.getLogger(__name__)

EVENT_BURST = 10
EVENT_INTERVAL_SECONDS = 6.0
EVENT_REASON = "DeadLetter"
# Room in a dead letter for its headers: a value is cut to what fits in the stream's (and the server's) limit.
_HEADER_ROOM = 4 * 1024
_KEPT_BYTES = MAX_DEAD_LETTER_BYTES - _HEADER_ROOM


@dataclass
class EventBudget:
    """A token bucket: ``burst`` announcements at once, then one per ``interval`` seconds; ``clock`` is injected."""

    burst: int = EVENT_BURST
    interval: float = EVENT_INTERVAL_SECONDS
    clock: Callable[[], float] = time.monotonic
    unannounced: int = 0
    _tokens: float = field(init=False)
    _stamp: float = field(init=False)

    def __post_init__(self) -> None:
        self._tokens, self._stamp = float(self.burst), self.clock()

    def take(self) -> int | None:
        """None when this dead letter goes unannounced (it is counted); else how many went unannounced before it."""
        now = self.clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) / self.interval)
        self._stamp = now
        if self._tokens < 1:
            self.unannounced += 1
            return None
        self._tokens -= 1
        unannounced, self.unannounced = self.unannounced, 0
        return unannounced


@dataclass(frozen=True)
class DeadLetter:
    """One value ``source`` (a bucket, or the events stream) held under ``key`` at ``revision`` that was unreadable."""

    source: str
    key: str
    revision: int
    payload: bytes
    problem: InvalidValue

    @property
    def headers(self) -> dict[str, str]:
        return {
            DEAD_LETTER_BUCKET: self.source,
            DEAD_LETTER_KEY: self.key,
            DEAD_LETTER_REVISION: str(self.revision),
            DEAD_LETTER_CAUSE: str(self.problem.cause),
            DEAD_LETTER_REASON: str(self.problem)[:MAX_REASON_CHARACTERS],
            DEAD_LETTER_SIZE: str(len(self.payload)),
        }


def announcement(reader: str, letter: DeadLetter, unannounced: int) -> Event:
    """The Warning event of one dead letter: which reader, what key, why; and how many went unannounced before."""
    message = (
        f"{reader} could not read {letter.source} {letter.key} (revision {letter.revision}): "
        f"{letter.headers[DEAD_LETTER_REASON]}; "
        f"kept in the dead-letter stream as {dead_letter_subject(reader, letter.source)}"
    )
    if unannounced:
        message += f" ({unannounced} more dead letters of {reader} since the last such event were kept unannounced)"
    return Event(
        instance=f"{BUS_EVENTS}/{reader}/{letter.source}",
        type="Warning",
        reason=EVENT_REASON,
        message=message,
        component=reader,
        time=utcnow(),
    )


class DeadLetters:
    """Where one reader (``reader``: its bus user, or its connection's name) keeps what it could not read."""

    def __init__(self, js: JetStreamContext, reader: str, budget: EventBudget | None = None) -> None:
        self._js, self.reader = js, reader
        self._budget = budget or EventBudget()

    async def keep(self, source: str, key: str, revision: int, payload: bytes, problem: InvalidValue) -> None:
        """Keep what ``source`` held under ``key`` at ``revision`` and announce it, unless this reader kept it
        already; never raises for the bus."""
        letter = DeadLetter(source, key, revision, payload, problem)
        metrics.CONSUME_ERRORS.labels(letter.source).inc()
        metrics.DEAD_LETTERS.labels(letter.source, str(letter.problem.cause)).inc()
        log.warning(
            "skipping bad value",
            extra={
                "bucket": letter.source,
                "key": letter.key,
                "cause": letter.problem.cause,
                "error": str(letter.problem),
            },
        )
        # One copy per reader and revision, however often a restarted reader sees it again.
        headers = {**letter.headers, "Nats-Msg-Id": f"{self.reader}.{letter.source}.{letter.revision}"}
        try:
            ack = await self._js.publish(
                dead_letter_subject(self.reader, letter.source), letter.payload[:_KEPT_BYTES], headers=headers
            )
            if ack.duplicate:
                return  # kept and announced before
            if (unannounced := self._budget.take()) is not None:
                subject = dead_letter_events_subject(self.reader, letter.source)
                await events.publish(self._js, subject, announcement(self.reader, letter, unannounced))
        except (NatsError, TimeoutError) as exc:
            log.warning("bad value not kept as a dead letter", extra={"key": letter.key, "error": repr(exc)})


@dataclass(frozen=True)
class KeptLetter:
    """A dead letter as an operator reads it: who could not read what, why, and the value as kept."""

    sequence: int  # in the dead-letter stream
    reader: str
    source: str
    key: str
    revision: int
    cause: str
    reason: str
    size: int
    payload: bytes


async def kept(js: JetStreamContext, reader: str | None = None) -> list[KeptLetter]:
    """Every dead letter still in the stream (of one reader, or all), oldest first."""
    subject = dead_letters_of(reader) if reader else dead_letters_all()
    found = []
    async for msg in every_message(js, DEAD_LETTERS_STREAM, subject):
        headers = msg.headers or {}
        found.append(
            KeptLetter(
                sequence=msg.metadata.sequence.stream,
                reader=dead_letter_reader(msg.subject),
                source=headers.get(DEAD_LETTER_BUCKET, ""),
                key=headers.get(DEAD_LETTER_KEY, ""),
                revision=int(headers.get(DEAD_LETTER_REVISION) or 0),
                cause=headers.get(DEAD_LETTER_CAUSE, ""),
                reason=headers.get(DEAD_LETTER_REASON, ""),
                size=int(headers.get(DEAD_LETTER_SIZE) or len(msg.data)),
                payload=msg.data,
            )
        )
    return found


async def purge(js: JetStreamContext, reader: str | None = None) -> None:
    """Drop the dead letters (of one reader, or all): once an operator has read them and fixed the values."""
    await js.purge_stream(DEAD_LETTERS_STREAM, subject=dead_letters_of(reader) if reader else dead_letters_all())
