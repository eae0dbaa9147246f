"""``fedstate up`` returns only once every cluster's agent has published its lease with its sealing key: before, a
cluster was Ready as soon as its collector reported it, and a create applied at once found an agent without a key
(the orchestrator writes no spec for such a cluster) and reached its clusters in two passes."""

from __future__ import annotations

import asyncio

from fedstate.bus.access import OPEN
from fedstate.bus.connection import Bus
from fedstate.bus.names import LeaseHolder, lease_key
from fedstate.cli.stack import _all_agents_heard
from fedstate.models.base import utcnow
from fedstate.models.lease import Lease
from fedstate.natsserver import NatsServer

CLUSTERS = {"up-wait-a", "up-wait-b"}


def agent_lease(cluster: str, key: str) -> Lease:
    return Lease(
        holder=cluster, component=LeaseHolder.AGENT, renewed_at=utcnow(), renew_every_seconds=5, public_key=key
    )


async def test_every_cluster_s_agent_must_have_published_a_key(bus: Bus, nats_server: NatsServer) -> None:
    async def heard() -> bool:
        return await asyncio.to_thread(_all_agents_heard, nats_server.url, OPEN, CLUSTERS)

    assert not await heard()
    await bus.leases.put(lease_key(LeaseHolder.AGENT, "up-wait-a"), agent_lease("up-wait-a", "a-key"))
    assert not await heard()  # the other cluster's agent is not up yet
    await bus.leases.put(lease_key(LeaseHolder.AGENT, "up-wait-b"), agent_lease("up-wait-b", ""))
    assert not await heard()  # up, but without a key to seal to
    await bus.leases.put(lease_key(LeaseHolder.AGENT, "up-wait-b"), agent_lease("up-wait-b", "b-key"))
    assert await heard()
