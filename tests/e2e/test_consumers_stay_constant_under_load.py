"""Reading is by watches, not lists (issue 9, item 1): however many reconciles and list requests run, the
number of JetStream consumers on every stream of the bus stays where it was."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import nats

from fedstate.api.resources import MULTICLOUD_MONGODB
from fedstate.bus.names import Bucket, kv_stream
from fedstate.cli.localstack import LocalStack
from fedstate.cli.records import load_state

from .invariants import apply, wait_gone, wait_settled

STREAMS = [kv_stream(bucket) for bucket in Bucket]


def consumers(stack: LocalStack) -> dict[str, int]:
    state = load_state(stack.paths)
    assert state is not None

    async def count() -> dict[str, int]:
        nc = await nats.connect(state.nats_url)
        try:
            js = nc.jetstream()
            return {name: (await js.stream_info(name)).state.consumer_count for name in STREAMS}
        finally:
            await nc.close()

    return asyncio.run(count())


def test_reconciles_and_lists_leave_the_consumer_count_as_it_was(stack: LocalStack) -> None:
    before = consumers(stack)
    names = [f"load-{k}" for k in range(4)]
    for name in names:
        apply(stack, name, "{replicaset: 1}")
    with ThreadPoolExecutor(8) as pool:  # a busy dashboard: 200 lists while the orchestrator works
        list(pool.map(lambda _: stack.gateway.list_objects(MULTICLOUD_MONGODB, "default"), range(200)))
    for name in names:
        wait_settled(stack, name)
    for name in names:
        stack.cli("delete", "mcm", name)
    for name in names:
        wait_gone(stack, name)
    assert before == consumers(stack)
