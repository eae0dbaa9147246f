"""A member's watch usually starts while the member's pod is starting: its Service (and so its address) exists
before mongod listens. Whoever started the watch looked at a member that was not there yet, so the member's
first answer, after refused connections, is news: the instance must be looked at again then, not at the next
requeue seconds later."""

from __future__ import annotations

import asyncio

from fedstate_agent.memberwatch import MemberWatch
from fedstate_sim.mongo.api import MemberLaunch
from fedstate_sim.mongo.testing import fast_settings, free_port
from fedstate_sim.mongo.threaded import FabricThread

HOST = "127.0.77.1"


async def test_the_first_answer_after_refused_connections_is_news() -> None:
    port = free_port(HOST)
    told: list[str] = []
    watch = MemberWatch(f"{HOST}:{port}", lambda: told.append("changed"))
    with FabricThread(fast_settings()) as sim:
        watch.start()
        try:
            await asyncio.sleep(0.5)  # refused: nothing listens there yet
            assert watch.token is None and told == []
            launch = MemberLaunch(cluster="c1", host=HOST, port=port, repl_set="rs", data_key="c1/d", pod="ns/rs-0")
            await asyncio.to_thread(sim.start_member, launch)
            for _ in range(100):
                if told:
                    break
                await asyncio.sleep(0.05)
            assert told == ["changed"], "the member's first answer was taken as already known"
            assert watch.token is not None
        finally:
            await watch.stop()
