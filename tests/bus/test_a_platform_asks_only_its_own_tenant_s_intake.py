"""A tenant's platform user (issue 10, item 6) against a real nats-server with the users ``fedstate up`` runs: it
submits on its own tenant's intake, and the server refuses it another tenant's intake, every bucket, the
events and listening to the intake itself. The intake stores under the tenant of the subject, so what it
submits lands in its tenant only."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from fedstate.bus import intake
from fedstate.bus.connection import Bus
from fedstate.bus.identities import Component, Identity
from fedstate.bus.intake import IntakeRequest
from fedstate.bus.names import Bucket, InstanceKey, Kind, direct_get_subject, events_subject_all, intake_subject
from fedstate.sealing import KeyRing
from fedstate_federation.intake import serve_intake
from fedstate_federation.vault import Vault

from ..conftest import PLATFORM_TENANTS, SecuredNats
from .test_a_member_cluster_reaches_only_its_own_keys import Attacker

MINE, THEIRS = PLATFORM_TENANTS
PLATFORM = Identity(Component.PLATFORM, tenant=MINE)


@pytest.fixture
async def federation(secured_nats: SecuredNats) -> AsyncIterator[Bus]:
    """The intake, served by the federation's own user, once the admin made the buckets; the bus it writes with."""
    await (await secured_nats.connect(Identity(Component.ADMIN), create_layout=True)).close()
    bus = await secured_nats.connect(Identity(Component.FEDERATION))
    subscription = await serve_intake(bus, Vault(KeyRing.generate()))
    await bus.nc.flush()  # the server has the subscription before another connection asks
    yield bus
    await subscription.unsubscribe()
    await bus.close()


@pytest.fixture
async def platform(secured_nats: SecuredNats) -> AsyncIterator[Attacker]:
    """A raw connection with the default tenant's platform credentials, recording the server's refusals."""
    async with Attacker(secured_nats, PLATFORM) as connected:
        yield connected


def configmap(name: str) -> IntakeRequest:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "ns"}, "data": {}}
    return IntakeRequest(op="apply", object=body)


async def test_it_submits_on_its_own_tenant_s_intake_and_lands_there(platform: Attacker, federation: Bus) -> None:
    name = f"cm-{uuid.uuid4().hex[:6]}"
    reply = await intake.request(platform.nc, configmap(name), tenant=MINE, timeout=10)
    assert reply.outcome == "created"
    assert await federation.spec.get(InstanceKey(MINE, "ns", Kind.CONFIGMAP, name).spec_key) is not None
    assert await federation.spec.get(InstanceKey(THEIRS, "ns", Kind.CONFIGMAP, name).spec_key) is None


async def test_another_tenant_s_intake_is_refused(platform: Attacker, federation: Bus) -> None:
    name = f"cm-{uuid.uuid4().hex[:6]}"
    subject = intake_subject(THEIRS)
    await platform.refused(lambda: intake.request(platform.nc, configmap(name), tenant=THEIRS, timeout=5), subject)
    assert await federation.spec.get(InstanceKey(THEIRS, "ns", Kind.CONFIGMAP, name).spec_key) is None


@pytest.mark.parametrize(
    "subject",
    [
        direct_get_subject(Bucket.SPEC, f"{MINE}.>"),  # even its own tenant's objects: the gateway serves reads
        direct_get_subject(Bucket.DATAPLANE, ">"),
        events_subject_all().replace(">", f"{MINE}.ns.x"),
    ],
)
async def test_buckets_and_events_are_refused(platform: Attacker, subject: str) -> None:
    await platform.refused(lambda: platform.nc.publish(subject, b"{}"), subject)


async def test_listening_to_the_intake_is_refused(platform: Attacker) -> None:
    subject = intake_subject(MINE)
    await platform.refused(lambda: platform.nc.subscribe(subject), subject)
