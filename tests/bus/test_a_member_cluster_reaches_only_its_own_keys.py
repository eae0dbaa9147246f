"""What an attacker holding member-1's bus credentials would try, against a real nats-server with the users
``fedstate up`` runs: every attempt on member-2's keys, on ``fs-spec``, on the intake, on other users' inboxes or
on the stream's API behind the permissions is refused by the server itself; member-1's own work still goes through.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime

import nats
import pytest
from nats.aio.client import Client

from fedstate.bus.access import seed_path
from fedstate.bus.cache import KVCache
from fedstate.bus.connection import Bus
from fedstate.bus.identities import Component, Identity
from fedstate.bus.names import (
    Bucket,
    consumer_create_subject,
    consumer_create_unfiltered_subject,
    consumer_subject,
    direct_get_subject,
    intake_subject,
    kv_stream,
    kv_subject,
)
from fedstate.models.dataplane import DataPlaneStatus

from ..conftest import SecuredNats

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MINE, THEIRS = "member-1", "member-2"
AGENT = Identity(Component.AGENT, MINE)
REFUSAL_SECONDS = 10.0  # how long the server may take to say no: a bound on a hang, never a speed claim


def report(cluster: str) -> DataPlaneStatus:
    return DataPlaneStatus(cluster=cluster, observed_at=T0, generation=1)


class Attacker:
    """A raw NATS connection with member-1's agent credentials (or ``identity``'s, its replies under
    ``inbox_prefix`` when not its own), which records every refusal the server sends."""

    def __init__(self, secured: SecuredNats, identity: Identity = AGENT, inbox_prefix: str | None = None) -> None:
        self._secured = secured
        self._identity = identity
        self._inbox_prefix = inbox_prefix or identity.inbox_prefix
        self.refusals: asyncio.Queue[str] = asyncio.Queue()
        self.nc: Client

    async def __aenter__(self) -> Attacker:
        async def on_error(error: Exception) -> None:
            if "permissions violation" in str(error).lower():
                await self.refusals.put(str(error))

        self.nc = await nats.connect(
            self._secured.server.url,
            nkeys_seed=str(seed_path(self._secured.credentials, self._identity)),
            inbox_prefix=self._inbox_prefix,
            error_cb=on_error,
        )
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.nc.close()

    async def refused(self, attempt: Callable[[], Awaitable[object]], subject: str) -> None:
        """``attempt`` makes the server answer with a permissions violation naming ``subject``."""
        task = asyncio.ensure_future(attempt())
        try:
            refusal = await asyncio.wait_for(self.refusals.get(), REFUSAL_SECONDS)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        assert f'"{subject.lower()}"' in refusal  # nats-py lowercases the server's error


@pytest.fixture
async def keys(secured_nats: SecuredNats) -> AsyncIterator[dict[str, str]]:
    """A report of member-1 and one of member-2, written by the orchestrator's and member-2's own users."""
    suffix = uuid.uuid4().hex[:6]
    written = {cluster: f"{cluster}.default.ns.rs{suffix}" for cluster in (MINE, THEIRS)}
    admin = await secured_nats.connect(Identity(Component.ADMIN), create_layout=True)
    other = await secured_nats.connect(Identity(Component.AGENT, THEIRS))
    try:
        await other.observed.put(written[THEIRS], report(THEIRS))
        await admin.observed.put(written[MINE], report(MINE))
        yield written
    finally:
        await other.close()
        await admin.close()


@pytest.fixture
async def attacker(secured_nats: SecuredNats) -> AsyncIterator[Attacker]:
    async with Attacker(secured_nats) as connected:
        yield connected


@pytest.fixture
async def mine(secured_nats: SecuredNats) -> AsyncIterator[Bus]:
    bus = await secured_nats.connect(AGENT)
    yield bus
    await bus.close()


async def test_its_own_keys_are_read_watched_and_written(mine: Bus, keys: dict[str, str]) -> None:
    """The agent's ordinary work goes through: a get, a cache of its cluster's keys, a write, a lease."""
    assert (await mine.observed.get(keys[MINE])) is not None
    cache = KVCache(mine.observed, f"{MINE}.>")
    await cache.start()
    try:
        assert cache.get(keys[MINE]) is not None and cache.get(keys[THEIRS]) is None
        assert "updated" == await cache.write_through(keys[MINE], report(MINE).model_copy(update={"generation": 2}))
    finally:
        await cache.stop()


async def test_reading_another_clusters_key_is_refused(attacker: Attacker, keys: dict[str, str]) -> None:
    subject = direct_get_subject(Bucket.OBSERVED, keys[THEIRS])
    await attacker.refused(lambda: attacker.nc.request(subject, b"", timeout=REFUSAL_SECONDS), subject)


async def test_reading_every_clusters_latest_write_is_refused(attacker: Attacker) -> None:
    """A direct get with a wildcard answers with the latest write of any cluster: not for member-1."""
    subject = direct_get_subject(Bucket.DATAPLANE, ">")
    await attacker.refused(lambda: attacker.nc.request(subject, b"", timeout=REFUSAL_SECONDS), subject)


async def test_asking_the_stream_for_a_message_by_its_body_is_refused(attacker: Attacker, keys: dict[str, str]) -> None:
    """``STREAM.MSG.GET`` names the key only in its body, where no permission sees it: nobody but the admin has it."""
    subject = f"$JS.API.STREAM.MSG.GET.{kv_stream(Bucket.OBSERVED)}"
    body = json.dumps({"last_by_subj": kv_subject(Bucket.OBSERVED, keys[THEIRS])}).encode()
    await attacker.refused(lambda: attacker.nc.request(subject, body, timeout=REFUSAL_SECONDS), subject)


async def test_watching_another_clusters_keys_is_refused(secured_nats: SecuredNats, keys: dict[str, str]) -> None:
    """The service's own watch code, pointed at member-2: the consumer is never created."""
    refusals: list[str] = []
    bus = await secured_nats.connect(AGENT)
    bus.nc._error_cb = lambda error: _note(refusals, error)  # type: ignore[method-assign,assignment]
    try:
        with pytest.raises(TimeoutError):
            await KVCache(bus.observed, f"{THEIRS}.>").start()
    finally:
        await bus.close()
    stream = kv_stream(Bucket.OBSERVED)
    created = (f"$js.api.consumer.create.{stream}.".lower(), f".$kv.{Bucket.OBSERVED}.{THEIRS}.>")
    assert any(created[0] in r and created[1] in r for r in refusals), refusals


async def _note(refusals: list[str], error: Exception) -> None:
    refusals.append(str(error))


async def test_a_consumer_whose_body_names_another_filter_is_refused(attacker: Attacker, keys: dict[str, str]) -> None:
    """Allowed subject, forged body: the server refuses a filter that differs from the create subject's."""
    stream = kv_stream(Bucket.OBSERVED)
    subject = consumer_create_subject(stream, "sneaky", kv_subject(Bucket.OBSERVED, f"{MINE}.>"))
    for config in ({"filter_subject": kv_subject(Bucket.OBSERVED, f"{THEIRS}.>")}, {"filter_subjects": [">"]}, {}):
        body = {"stream_name": stream, "config": {"name": "sneaky", "ack_policy": "none", **config}}
        reply = await attacker.nc.request(subject, json.dumps(body).encode(), timeout=REFUSAL_SECONDS)
        error = json.loads(reply.data)["error"]
        assert error["err_code"] in (10131, 10137), error  # filter does not match the subject's / not allowed here


async def test_an_unnamed_consumer_is_refused(attacker: Attacker) -> None:
    """The form nats-py's own watch uses carries its filter only in the body: no member may use it."""
    subject = consumer_create_unfiltered_subject(kv_stream(Bucket.DATAPLANE))
    body = json.dumps({"stream_name": kv_stream(Bucket.DATAPLANE), "config": {"ack_policy": "none"}}).encode()
    await attacker.refused(lambda: attacker.nc.request(subject, body, timeout=REFUSAL_SECONDS), subject)


async def test_deleting_a_consumer_is_refused(attacker: Attacker) -> None:
    """Not even its own: a member that could delete consumers could delete the orchestrator's."""
    subject = consumer_subject("DELETE", kv_stream(Bucket.DATAPLANE), "federation-anything")
    await attacker.refused(lambda: attacker.nc.request(subject, b"", timeout=REFUSAL_SECONDS), subject)


@pytest.mark.parametrize(
    ("bucket", "key"),
    [
        (Bucket.OBSERVED, f"{THEIRS}.default.ns.rs0"),
        (Bucket.DATAPLANE, f"{MINE}.default.ns.rs0"),  # its own specs come from the orchestrator only
        (Bucket.SPEC, "default.ns.multicloudmongodb.rs0"),
        (Bucket.CLUSTERS, MINE),  # its cluster's record is the collector's
        (Bucket.LEASES, f"dataplane-agent.{THEIRS}"),
    ],
)
async def test_writing_anything_but_its_own_keys_is_refused(attacker: Attacker, bucket: Bucket, key: str) -> None:
    subject = kv_subject(bucket, key)
    await attacker.refused(lambda: attacker.nc.request(subject, b"{}", timeout=REFUSAL_SECONDS), subject)


async def test_reading_multicloud_objects_in_fs_spec_is_refused(attacker: Attacker) -> None:
    subject = direct_get_subject(Bucket.SPEC, "default.ns.multicloudmongodb.rs0")
    await attacker.refused(lambda: attacker.nc.request(subject, b"", timeout=REFUSAL_SECONDS), subject)


async def test_publishing_on_the_intake_is_refused(attacker: Attacker) -> None:
    subject = intake_subject("default")
    body = json.dumps({"op": "delete", "kind": "mcm", "namespace": "default", "name": "rs0"}).encode()
    await attacker.refused(lambda: attacker.nc.request(subject, body, timeout=REFUSAL_SECONDS), subject)


@pytest.mark.parametrize(
    "subject",
    [
        kv_subject(Bucket.DATAPLANE, ">"),  # every write of every cluster, live
        kv_subject(Bucket.DATAPLANE, f"{MINE}.>"),  # even its own: it reads through consumers and direct gets
        Identity(Component.FEDERATION).inbox_prefix + ".>",  # the replies the orchestrator gets
        Identity(Component.AGENT, THEIRS).inbox_prefix + ".>",
        "_INBOX.>",
        intake_subject("default"),
    ],
)
async def test_subscribing_to_anything_but_its_own_inbox_is_refused(attacker: Attacker, subject: str) -> None:
    async def subscribe() -> None:
        await attacker.nc.subscribe(subject)
        await attacker.nc.flush()

    await attacker.refused(subscribe, subject)


async def test_connecting_without_a_seed_is_refused(secured_nats: SecuredNats) -> None:
    """No anonymous access: whoever reaches the server's port without a user's seed gets nothing."""
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await nats.connect(secured_nats.server.url, allow_reconnect=False, max_reconnect_attempts=0)
