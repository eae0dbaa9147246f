"""A member's watch usually starts while the member's pod is starting: its Service (and so its address) exists
before mongod listens. Whoever started the watch looked at a member that was not there yet, so the member's
first answer, after refused connections, is news: the instance must be looked at again then, not at the next
requeue seconds later."""

from __future__ import annotations

import asyncio

import pytest

from fedstate_agent import memberwatch
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


async def test_a_look_tries_at_once_and_its_answer_is_the_lookers(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pass told that a member's pod is Ready looks at a watch waiting to try again: the watch tries at once
    rather than after its backoff, and the answer is the pass's to report, not news that enqueues another pass."""
    monkeypatch.setattr(memberwatch, "RETRY_SECONDS", (30.0,))  # left alone, it would not try again in this test
    port = free_port(HOST)
    told: list[str] = []
    watch = MemberWatch(f"{HOST}:{port}", lambda: told.append("changed"))
    with FabricThread(fast_settings()) as sim:
        watch.start()
        try:
            await asyncio.wait_for(watch.look(), 2.0)  # refused: the first try failed
            assert watch.token is None
            launch = MemberLaunch(cluster="c1", host=HOST, port=port, repl_set="rs", data_key="c1/d", pod="ns/rs-0")
            await asyncio.to_thread(sim.start_member, launch)
            await asyncio.wait_for(watch.look(), 2.0)
            assert watch.token is not None and watch.hello is not None and watch.version
            assert told == [], "the look's own answer enqueued another pass"
        finally:
            await watch.stop()
