"""A value a service cannot read (not JSON, an unknown schema major, failing validation) does not stop it: its
cache skips the value, goes on with the next, and keeps the value in ``FS_DEAD_LETTERS`` with the reason, under
the reader's own name, once per revision however often the reader starts again, and announces it once. A member
cluster may keep dead letters only under its own name."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import partial

from fedstate.bus import events
from fedstate.bus.cache import KVCache
from fedstate.bus.connection import Bus
from fedstate.bus.deadletters import EVENT_REASON
from fedstate.bus.identities import Component, Identity
from fedstate.bus.names import (
    DEAD_LETTER_KEY,
    DEAD_LETTER_REASON,
    DEAD_LETTER_REVISION,
    DEAD_LETTERS_STREAM,
    Bucket,
    dead_letter_subject,
    kv_subject,
)
from fedstate.models.dataplane import DataPlaneStatus
from fedstate.models.events import Event

from ..conftest import SecuredNats
from .test_a_member_cluster_reaches_only_its_own_keys import AGENT, MINE, REFUSAL_SECONDS, Attacker
from .test_a_nats_cluster_keeps_three_copies_through_a_lost_server import until

BAD = b'{"schemaVersion": "1.0", "data": {"cluster": 7}}'


async def kept(secured_nats: SecuredNats, subject: str) -> list[tuple[dict[str, str], bytes]]:
    """Every dead letter on ``subject``, as the admin reads them."""
    admin = await secured_nats.connect(Identity(Component.ADMIN))
    try:
        info = await admin.js.stream_info(DEAD_LETTERS_STREAM, subjects_filter=subject)
        found = []
        for sequence in range(info.state.first_seq, info.state.last_seq + 1):
            try:
                msg = await admin.js.get_msg(DEAD_LETTERS_STREAM, seq=sequence)
            except Exception:  # deleted or aged out between the two calls
                continue
            if msg.subject == subject:
                found.append((dict(msg.headers or {}), msg.data or b""))
        return found
    finally:
        await admin.close()


async def announced(admin: Bus, key: str) -> list[Event]:
    """The dead-letter events that name ``key``."""
    return [e for e in await events.recent(admin.js, limit=10_000) if e.reason == EVENT_REASON and key in e.message]


async def is_announced(admin: Bus, key: str) -> bool:
    return bool(await announced(admin, key))


async def test_a_bad_value_is_skipped_kept_once_and_the_watch_goes_on(secured_nats: SecuredNats) -> None:
    admin = await secured_nats.connect(Identity(Component.ADMIN), create_layout=True)
    agent = await secured_nats.connect(AGENT)
    suffix = uuid.uuid4().hex[:6]
    bad_key, good_key = f"{MINE}.default.ns.bad{suffix}", f"{MINE}.default.ns.good{suffix}"
    subject = dead_letter_subject(AGENT.user, Bucket.OBSERVED)
    try:
        ack = await admin.js.publish(kv_subject(Bucket.OBSERVED, bad_key), BAD)
        good = DataPlaneStatus(cluster=MINE, observed_at=datetime(2026, 1, 1, tzinfo=UTC), generation=1)
        await admin.observed.put(good_key, good)
        for _ in range(2):  # a reader that starts again sees the bad value again: it is kept once
            cache = KVCache(agent.observed, f"{MINE}.>")
            await cache.start()
            assert cache.get(bad_key) is None and cache.get(good_key) is not None
            await cache.stop()
            await until(partial(is_announced, admin, bad_key))  # dead letters are kept in the background
        letters = [(h, data) for h, data in await kept(secured_nats, subject) if h.get(DEAD_LETTER_KEY) == bad_key]
        assert 1 == len(letters), letters
        assert 1 == len(await announced(admin, bad_key))
        headers, data = letters[0]
        assert BAD == data and str(ack.seq) == headers[DEAD_LETTER_REVISION]
        assert "cluster" in headers[DEAD_LETTER_REASON]  # the field path that failed validation
    finally:
        await agent.close()
        await admin.close()


async def test_a_member_keeps_dead_letters_only_under_its_own_name(secured_nats: SecuredNats) -> None:
    async with Attacker(secured_nats) as attacker:
        subject = dead_letter_subject("agent-member-2", Bucket.OBSERVED)
        await attacker.refused(partial(attacker.nc.request, subject, b"x", timeout=REFUSAL_SECONDS), subject)
