"""A member cluster's agent and collector reach the hub through the cluster's NATS leaf node (decision 0022), with
real servers: a hub whose JetStream has the domain ``hub``, and member-1's leaf node, without JetStream, linked to it
as member-1's leaf user. Through the leaf, the agent does all its work (KV gets, compare-and-set writes, watches by
named filtered consumers, events, its lease) and the collector writes its cluster's record; what they are refused
today is still refused, by the leaf (each local user's own permissions) and by the hub (the leaf's link carries no
more than member-1's users may do, whoever holds the leaf's seed).
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import nats
import nkeys
import pytest

from fedstate.bus.access import BusAccess, seed_path
from fedstate.bus.cache import KVCache
from fedstate.bus.connection import Bus, bootstrap_layout, connect
from fedstate.bus.credentials import write_leaf_node_config, write_leaf_node_users, write_server_config
from fedstate.bus.events import emit
from fedstate.bus.identities import Component, Identity, every_identity
from fedstate.bus.names import (
    Bucket,
    InstanceKey,
    Kind,
    LeaseHolder,
    consumer_create_subject,
    consumer_create_unfiltered_subject,
    consumer_subject,
    direct_get_subject,
    intake_subject,
    kv_put_subject,
    kv_stream,
    kv_subject,
    lease_key,
)
from fedstate.bus.store import Conflict, Entry
from fedstate.models.cluster import ClusterSnapshot
from fedstate.models.dataplane import DataPlaneStatus
from fedstate.models.lease import Lease
from fedstate.natsserver import Hub, NatsServer, free_port, start_leaf_node, start_nats_server

from ..conftest import SecuredNats
from .test_a_member_cluster_reaches_only_its_own_keys import REFUSAL_SECONDS, Attacker

DOMAIN = "hub"
MINE, THEIRS = "member-1", "member-2"
AGENT = Identity(Component.AGENT, MINE)
COLLECTOR = Identity(Component.COLLECTOR, MINE)
LEAF = Identity(Component.LEAF, MINE)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
LINK_SECONDS = 60.0  # how long the leaf may take to link to the hub: a bound on a hang, never a speed claim


@dataclass(frozen=True)
class LeafStack:
    hub: NatsServer
    hub_settings: Hub
    leaf: NatsServer
    credentials: Path

    @property
    def access(self) -> BusAccess:
        return BusAccess(self.credentials, jetstream_domain=DOMAIN)

    async def connect(self, identity: Identity, server: NatsServer | None = None) -> Bus:
        """``identity``'s bus, through the leaf node unless ``server`` says otherwise."""
        url = (server or self.leaf).url
        return await connect(url, name=identity.user, identity=identity, access=self.access)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LeafStack]:
    root = tmp_path_factory.mktemp("leaf-node")
    credentials = root / "credentials"
    write_server_config(root / "users.conf", credentials, every_identity([MINE, THEIRS]), domain=DOMAIN)
    hub = Hub(DOMAIN, free_port())
    hub_server = start_nats_server(root / "hub", config=root / "users.conf", hub=hub)
    write_leaf_node_users(root / "leaf-users.conf", credentials, LEAF, DOMAIN)
    write_leaf_node_config(
        root / "leaf.conf", root / "leaf-users.conf", [hub.leaf_node_url], seed_path(credentials, LEAF)
    )
    try:
        leaf_server = start_leaf_node(root / "leaf.conf")
    except BaseException:
        hub_server.stop()
        raise
    yield LeafStack(hub_server, hub, leaf_server, credentials)
    leaf_server.stop()
    hub_server.stop()


def report(cluster: str, generation: int = 1) -> DataPlaneStatus:
    return DataPlaneStatus(cluster=cluster, observed_at=T0, generation=generation)


@pytest.fixture
async def admin(stack: LeafStack) -> AsyncIterator[Bus]:
    """The admin at the hub, its JetStream asked under the domain too: it makes the buckets and streams."""
    await bootstrap_layout(stack.hub.url, stack.access)
    bus = await stack.connect(Identity(Component.ADMIN), stack.hub)
    yield bus
    await bus.close()


@pytest.fixture
async def agent(stack: LeafStack, admin: Bus) -> AsyncIterator[Bus]:
    bus = await stack.connect(AGENT)
    await linked(bus)
    yield bus
    await bus.close()


async def linked(bus: Bus) -> None:
    """Wait until the leaf has linked to the hub: until a get through it is answered (found or not)."""
    async with asyncio.timeout(LINK_SECONDS):
        while True:
            try:
                await bus.observed.get(f"{MINE}.default.ns.link")
                return
            except (nats.errors.Error, TimeoutError):
                await asyncio.sleep(0.2)


def a_key(cluster: str) -> str:
    return f"{cluster}.default.ns.rs{uuid.uuid4().hex[:6]}"


async def test_the_agent_gets_writes_with_compare_and_set_and_watches_through_the_leaf(agent: Bus, admin: Bus) -> None:
    key, theirs = a_key(MINE), a_key(THEIRS)
    await admin.observed.put(theirs, report(THEIRS))
    first = await agent.observed.create(key, report(MINE))
    assert (await agent.observed.get(key)) is not None
    second = await agent.observed.update(key, report(MINE, 2), revision=first)
    with pytest.raises(Conflict):
        await agent.observed.update(key, report(MINE, 3), revision=first)  # the hub's stream judges the revision
    seen_at_the_hub = asyncio.Event()

    def on_change(changed: str, entry: Entry[DataPlaneStatus] | None) -> None:
        if changed == key and entry is not None and entry.value.generation == 4:
            seen_at_the_hub.set()

    cache = KVCache(agent.observed, f"{MINE}.>", on_change=on_change)
    await cache.start()
    try:
        entry = cache.get(key)
        assert entry is not None and entry.revision == second and cache.get(theirs) is None
        # A write made at the hub reaches the agent's watch through the leaf.
        await admin.observed.put(key, report(MINE, 4))
        await asyncio.wait_for(seen_at_the_hub.wait(), LINK_SECONDS)
    finally:
        await cache.stop()


async def test_the_agent_renews_its_lease_and_publishes_events_through_the_leaf(agent: Bus, admin: Bus) -> None:
    lease = Lease(holder=MINE, component=LeaseHolder.AGENT, renewed_at=T0, renew_every_seconds=5)
    await agent.leases.put(lease_key(LeaseHolder.AGENT, MINE), lease)
    stored = await admin.leases.get(lease_key(LeaseHolder.AGENT, MINE))
    assert stored is not None and stored.value.holder == MINE
    instance = InstanceKey("default", "ns", Kind.MULTICLOUD_MONGODB, f"rs{uuid.uuid4().hex[:6]}")
    await emit(agent.js, instance, reason="MemberStarted", message="through the leaf", component="agent")
    stored_event = await admin.js.get_last_msg("FS_EVENTS", instance.events_subject)
    assert b"through the leaf" in (stored_event.data or b"")


async def test_the_collector_writes_its_clusters_record_through_the_leaf(stack: LeafStack, agent: Bus) -> None:
    collector = await stack.connect(COLLECTOR)
    try:
        await collector.clusters.put(MINE, ClusterSnapshot(name=MINE, vip="127.0.1.1", observed_at=T0))
        assert (await agent.dataplane.get(f"{MINE}.default.ns.none")) is None  # the agent's own read, unharmed
    finally:
        await collector.close()


REFUSED_AT_THE_LEAF = [
    direct_get_subject(Bucket.OBSERVED, f"{THEIRS}.default.ns.rs0", DOMAIN),
    direct_get_subject(Bucket.DATAPLANE, ">", DOMAIN),
    direct_get_subject(Bucket.SPEC, "default.ns.multicloudmongodb.rs0", DOMAIN),
    kv_put_subject(Bucket.OBSERVED, f"{THEIRS}.default.ns.rs0", DOMAIN),
    kv_put_subject(Bucket.DATAPLANE, f"{MINE}.default.ns.rs0", DOMAIN),  # its specs come from the orchestrator
    kv_put_subject(Bucket.SPEC, "default.ns.multicloudmongodb.rs0", DOMAIN),
    kv_put_subject(Bucket.CLUSTERS, MINE, DOMAIN),  # its cluster's record is the collector's
    consumer_create_subject(kv_stream(Bucket.OBSERVED), "sneaky", kv_subject(Bucket.OBSERVED, f"{THEIRS}.>"), DOMAIN),
    consumer_create_unfiltered_subject(kv_stream(Bucket.DATAPLANE), DOMAIN),
    consumer_subject("DELETE", kv_stream(Bucket.DATAPLANE), "federation-anything", DOMAIN),
    intake_subject("default"),
    # The stream subject itself and the API without the domain: never through a leaf, so never granted.
    kv_subject(Bucket.OBSERVED, f"{MINE}.default.ns.rs0"),
    direct_get_subject(Bucket.OBSERVED, f"{MINE}.default.ns.rs0"),
]


@pytest.mark.parametrize("subject", REFUSED_AT_THE_LEAF)
async def test_the_leaf_refuses_the_agent_what_the_hub_would(stack: LeafStack, agent: Bus, subject: str) -> None:
    async with Attacker(SecuredNats(stack.leaf, stack.credentials), AGENT) as attacker:
        await attacker.refused(lambda: attacker.nc.request(subject, b"{}", timeout=REFUSAL_SECONDS), subject)


async def test_a_watch_of_another_clusters_keys_is_never_created(stack: LeafStack, agent: Bus) -> None:
    """The agent's own watch code, pointed at member-2 through the leaf: refused, at once."""
    with pytest.raises(TimeoutError):
        await KVCache(agent.observed, f"{THEIRS}.>").start()
    assert "permissions violation" in str(agent.nc.last_error).lower()


async def ask_as_a_rogue_leaf(stack: LeafStack, subject: str) -> str:
    """Link to the hub as member-1's leaf node, speaking the leaf node protocol directly and so enforcing nothing (a
    compromised leaf node), ask on ``subject`` for a reply to member-1's agent, and return what the hub says: a
    refusal (``-ERR``, and the hub drops the link) or the reply's first lines."""
    reader, writer = await asyncio.open_connection("127.0.0.1", stack.hub_settings.leaf_node_port)
    try:
        info = json.loads((await reader.readline()).decode().split(" ", 1)[1])
        key_pair = nkeys.from_seed(bytearray(seed_path(stack.credentials, LEAF).read_bytes().strip()))
        signature = base64.urlsafe_b64encode(key_pair.sign(info["nonce"].encode())).decode().rstrip("=")
        hello = {
            "nkey": key_pair.public_key.decode(),
            "sig": signature,
            "server_id": "NROGUE",
            "name": "rogue",
            "cluster": "rogue",
            "headers": True,
            "protocol": 3,
        }
        inbox = f"{AGENT.inbox_prefix}.rogue"
        # The hub takes a leaf's subscriptions and messages once it has answered its first PING.
        writer.write(f"CONNECT {json.dumps(hello)}\r\nPING\r\n".encode())
        async with asyncio.timeout(REFUSAL_SECONDS):
            while (await reader.readline()) != b"PONG\r\n":
                pass
        writer.write(f"LS+ {inbox}.*\r\nLMSG {subject} {inbox}.1 0\r\n\r\n".encode())
        await writer.drain()
        async with asyncio.timeout(REFUSAL_SECONDS):
            while not (line := (await reader.readline()).decode()).startswith(("-ERR", "LMSG", "HMSG")):
                if not line:
                    return "closed"
            return line + (await reader.readline()).decode()
    finally:
        writer.close()


@pytest.mark.parametrize(
    ("subject", "named"),
    [
        (direct_get_subject(Bucket.OBSERVED, f"{THEIRS}.default.ns.rs0", DOMAIN), f"{THEIRS}.default.ns.rs0"),
        (direct_get_subject(Bucket.SPEC, "default.ns.multicloudmongodb.rs0", DOMAIN), "multicloudmongodb.rs0"),
        (kv_put_subject(Bucket.OBSERVED, f"{THEIRS}.default.ns.rs0", DOMAIN), f"{THEIRS}.default.ns.rs0"),
        (kv_put_subject(Bucket.LEASES, lease_key(LeaseHolder.AGENT, THEIRS), DOMAIN), f"agent.{THEIRS}"),
        (
            consumer_create_subject(
                kv_stream(Bucket.DATAPLANE), "sneaky", kv_subject(Bucket.DATAPLANE, f"{THEIRS}.>"), DOMAIN
            ),
            f"sneaky.$KV.fs-dataplane.{THEIRS}.>",
        ),
        (consumer_subject("DELETE", kv_stream(Bucket.DATAPLANE), "federation-x", DOMAIN), "DELETE.KV_fs-dataplane"),
        (intake_subject("default"), intake_subject("default")),
        # Its own keys too, when asked without the domain: a leaf's link reaches JetStream only under it.
        (direct_get_subject(Bucket.OBSERVED, f"{MINE}.default.ns.rs0"), f"{MINE}.default.ns.rs0"),
    ],
)
async def test_the_hub_holds_a_rogue_leaf_to_its_clusters_rights(
    stack: LeafStack, admin: Bus, subject: str, named: str
) -> None:
    """Whoever holds the leaf's seed, enforcing nothing, is refused by the hub itself. (nats-server names the
    subject as it maps it, ``$JS.API``; it judges the one sent, as the test below shows.)"""
    answer = await ask_as_a_rogue_leaf(stack, subject)
    assert answer.startswith("-ERR 'Permissions Violation for Publish") and named in answer, answer


async def test_a_rogue_leaf_still_reaches_only_its_clusters_keys(stack: LeafStack, admin: Bus) -> None:
    """The refusals above are the permissions, not a broken link: the same link is answered on its own keys."""
    key = a_key(MINE)
    await admin.observed.put(key, report(MINE))
    answer = await ask_as_a_rogue_leaf(stack, direct_get_subject(Bucket.OBSERVED, key, DOMAIN))
    assert answer.startswith("HMSG") and answer.endswith("NATS/1.0\r\n"), answer  # a value, no 404 status


async def test_the_leaf_accepts_no_anonymous_client(stack: LeafStack) -> None:
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await nats.connect(stack.leaf.url, allow_reconnect=False, max_reconnect_attempts=0)
