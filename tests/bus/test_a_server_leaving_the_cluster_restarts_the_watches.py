"""Which INFO messages from the connected server re-create a connection's watches (decision 0024): one whose
``connect_urls`` lack a server listed before and still lack it a moment later, and no other — not a server joining
or coming back, not one dropped for a moment while it rejoins, not an INFO about something else, not the first INFO
of a new connection (the reconnect re-creates them itself).
The end-to-end case, a consumer lost with a server the client was not connected to, is in
``test_a_nats_cluster_keeps_three_copies_through_a_lost_server.py``."""

from __future__ import annotations

from typing import Any

from fedstate.bus.membership import SERVER_LEFT, ClusterMembership

A, B, C = "127.0.0.1:4222", "127.0.0.1:4223", "127.0.0.1:4224"
CONFIRM = 0.05


class Recorder:
    def __init__(self) -> None:
        self.fired: list[str] = []

    async def __call__(self, why: str) -> None:
        self.fired.append(why)


def info(*urls: str, **more: Any) -> dict[str, Any]:
    return {"connect_urls": list(urls), **more}


async def test_a_server_missing_from_the_list_restarts_every_watch_once() -> None:
    recorder = Recorder()
    membership = ClusterMembership(recorder, CONFIRM)
    await membership.seen(info(A, B, C), initial_connection=True)
    await membership.seen(info(A, C))
    await membership.settled()
    assert [SERVER_LEFT] == recorder.fired
    await membership.seen(info(A, C))  # told again: nothing new is lost
    await membership.settled()
    assert [SERVER_LEFT] == recorder.fired


async def test_a_server_dropped_for_a_moment_while_it_rejoins_restarts_nothing() -> None:
    recorder = Recorder()
    membership = ClusterMembership(recorder, CONFIRM)
    await membership.seen(info(A, B, C), initial_connection=True)
    await membership.seen(info(A, C))  # B's routes are being made again
    await membership.seen(info(A, B, C))
    await membership.settled()
    assert [] == recorder.fired


async def test_servers_joining_or_other_news_restart_nothing() -> None:
    recorder = Recorder()
    membership = ClusterMembership(recorder, CONFIRM)
    await membership.seen(info(A, B), initial_connection=True)
    await membership.seen(info(A, B, C))  # one joined, or came back
    await membership.seen({"ldm": True})  # lame duck mode, no list: the cluster is as it was
    await membership.seen({"nonce": "x"})
    await membership.settled()
    assert [] == recorder.fired


async def test_the_first_info_of_a_new_connection_only_sets_the_list() -> None:
    recorder = Recorder()
    membership = ClusterMembership(recorder, CONFIRM)
    await membership.seen(info(A, B, C), initial_connection=True)
    await membership.seen(info(B, C), initial_connection=True)  # reconnected to B: the reconnect restarts them
    await membership.settled()
    assert [] == recorder.fired
    await membership.seen(info(B))
    await membership.settled()
    assert [SERVER_LEFT] == recorder.fired
