"""Reading a stream once, from its first message to its last: the events (``events.recent``) and the dead letters
(``deadletters.kept``)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import APIError, NotFoundError

from .names import KV_OPERATION, consumer_name, kv_stream, kv_subject

READER = "reader"  # the owner part of the short-lived consumers' names
BATCH = 500
# Messages are known to be pending when a fetch starts, so a slow answer is a busy server, not the end.
FETCH_SECONDS = 5.0


async def every_message(
    js: JetStreamContext, stream: str, subject: str, *, last_per_subject: bool = False
) -> AsyncIterator[Msg]:
    """Every message of ``stream`` on ``subject`` (a filter), oldest first, through one short-lived pull consumer.

    A new consumer has delivered nothing, so its pending count is exactly what there is to read: an empty answer is
    known, not guessed from a quiet moment (nats-py's ``KeyValue.history`` guesses, and on a busy machine it can find
    a key it has just read empty)."""
    # Named, so it is known without asking (a gateway may create, fetch and delete a consumer of the events, not
    # ask about one); the creation's answer says how many messages it holds.
    name = consumer_name(READER, uuid.uuid4().hex)
    created = await js.add_consumer(
        stream,
        ConsumerConfig(
            name=name,
            filter_subject=subject,
            deliver_policy=DeliverPolicy.LAST_PER_SUBJECT if last_per_subject else DeliverPolicy.ALL,
            inactive_threshold=30,
        ),
    )
    subscription = await js.pull_subscribe_bind(consumer=name, stream=stream)
    try:
        if not created.num_pending:
            return
        while True:
            try:
                batch = await subscription.fetch(BATCH, timeout=FETCH_SECONDS)
            except TimeoutError:
                break
            for msg in batch:
                yield msg
            # A short batch is not the end: a fresh consumer may hand out what it has so far. The last message
            # says how many are still pending after it.
            if not batch or batch[-1].metadata.num_pending == 0:
                break
    finally:
        await subscription.unsubscribe()
        # Deleted now, not left to expire: a busy reader would otherwise pile consumers up to the stream's limit.
        with contextlib.suppress(NotFoundError, APIError, TimeoutError):
            await js.delete_consumer(stream, name)


def key_history(js: JetStreamContext, bucket: str, key: str) -> AsyncIterator[Msg]:
    """Every kept revision of one KV key, oldest first, deletes included (``KV-Operation`` in their headers)."""
    return every_message(js, kv_stream(bucket), kv_subject(bucket, key))


async def live_keys(js: JetStreamContext, bucket: str) -> list[str]:
    """The keys of a KV bucket that hold a value now (a deleted or purged key is left out), sorted."""
    prefix = kv_subject(bucket, "")
    return sorted(
        [
            msg.subject.removeprefix(prefix)
            async for msg in every_message(js, kv_stream(bucket), kv_subject(bucket, ">"), last_per_subject=True)
            if (msg.headers or {}).get(KV_OPERATION) not in ("DEL", "PURGE")
        ]
    )
