"""``key_history`` (what ``fedstate bus kv history`` prints) reads every kept revision of a key, read right after
the write, deletes included, and nothing for a key never written.

nats-py's ``KeyValue.history`` decides a key is empty when its consumer reports nothing pending before the first
message has been handed to it, so on a busy machine it once told the CI's documented example that a key just written
did not exist. The pending count of a new pull consumer is exact: there is no moment to guess from."""

from __future__ import annotations

import asyncio

from fedstate.bus.connection import Bus
from fedstate.bus.streams import key_history, live_keys

ROUNDS = 40


async def test_every_revision_is_read_right_after_each_write_even_while_others_write(bus: Bus) -> None:
    kv = await bus.js.key_value("fs-spec")

    async def read_back(index: int) -> list[tuple[str, bytes]]:
        key = f"history.ns.mcm.k{index}"
        await kv.put(key, b'{"v":1}')
        await kv.put(key, b'{"v":2}')
        await kv.delete(key)
        return [
            ((msg.headers or {}).get("KV-Operation", "PUT"), msg.data)
            async for msg in key_history(bus.js, "fs-spec", key)
        ]

    histories = await asyncio.gather(*(read_back(index) for index in range(ROUNDS)))
    assert [[("PUT", b'{"v":1}'), ("PUT", b'{"v":2}'), ("DEL", b"")]] * ROUNDS == histories


async def test_a_key_never_written_has_no_history(bus: Bus) -> None:
    assert [] == [msg async for msg in key_history(bus.js, "fs-spec", "history.ns.mcm.never")]


async def test_the_live_keys_are_those_holding_a_value(bus: Bus) -> None:
    """``fedstate bus kv ls``: written keys, read right after the write, without the deleted and the purged."""
    kv = await bus.js.key_value("fs-placements")
    for name in ("kept", "deleted", "purged", "rewritten"):
        await kv.put(f"livekeys.ns.{name}", b"{}")
    await kv.delete("livekeys.ns.deleted")
    await kv.purge("livekeys.ns.purged")
    await kv.put("livekeys.ns.rewritten", b"{}")
    keys = [key for key in await live_keys(bus.js, "fs-placements") if key.startswith("livekeys.")]
    assert ["livekeys.ns.kept", "livekeys.ns.rewritten"] == keys
