"""A member cluster's watches heartbeat every 15 s when idle, a control-plane service's every 5 s (decision 0021):
the member side's count grows with the fleet, the control plane's does not."""

from __future__ import annotations

from fedstate.bus.cache import KVCache
from fedstate.bus.identities import Component, Identity
from fedstate.bus.names import Bucket, kv_stream

from ..conftest import MEMBER_CLUSTERS, SecuredNats


async def idle_heartbeat_of(secured_nats: SecuredNats, identity: Identity, pattern: str) -> float:
    """The idle heartbeat, in seconds, of the consumer behind a cache of ``fs-observed`` opened as ``identity``."""
    admin = await secured_nats.connect(Identity(Component.ADMIN), create_layout=True)
    watcher = await secured_nats.connect(identity)
    cache = KVCache(watcher.observed, pattern)
    # Other tests on this server may have left consumers of the same user behind: only the new one is this cache's.
    earlier = {c.name for c in await admin.js.consumers_info(kv_stream(Bucket.OBSERVED))}
    try:
        await cache.start()
        consumers = await admin.js.consumers_info(kv_stream(Bucket.OBSERVED))
        theirs = [c for c in consumers if c.name.startswith(f"{identity.user}-") and c.name not in earlier]
        assert 1 == len(theirs)
        heartbeat = theirs[0].config.idle_heartbeat
        assert heartbeat is not None
        return heartbeat
    finally:
        await cache.stop()
        await watcher.close()
        await admin.close()


async def test_an_agents_watch_heartbeats_every_15_s_and_the_orchestrators_every_5_s(
    secured_nats: SecuredNats,
) -> None:
    cluster = MEMBER_CLUSTERS[0]
    agent = await idle_heartbeat_of(secured_nats, Identity(Component.AGENT, cluster), f"{cluster}.>")
    federation = await idle_heartbeat_of(secured_nats, Identity(Component.FEDERATION), ">")
    assert (15.0, 5.0) == (agent, federation)
