"""A request sent while no intake is subscribed (the federation restarting, a replica taking over) is asked again
until its timeout: the gateway answers it rather than 503, and nothing is applied twice, since nobody received the
requests that went unanswered. After the timeout it fails as before."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from nats.errors import NoRespondersError

from fedstate.bus import intake
from fedstate.bus.connection import Bus
from fedstate.bus.intake import IntakeRequest
from fedstate.bus.names import InstanceKey, Kind
from fedstate.sealing import KeyRing
from fedstate_federation.intake import serve_intake
from fedstate_federation.vault import Vault


def configmap(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "ns"}, "data": {}}


async def test_a_request_waits_for_an_intake_that_starts_after_it_was_sent(bus: Bus) -> None:
    name = f"cm-{uuid.uuid4().hex[:6]}"
    asked = asyncio.ensure_future(intake.request(bus.nc, IntakeRequest(op="apply", object=configmap(name)), timeout=20))
    await asyncio.sleep(0.5)  # several asks find nobody
    assert not asked.done()
    subscription = await serve_intake(bus, Vault(KeyRing.generate()))
    try:
        assert "created" == (await asked).outcome  # not "unchanged": no earlier ask was applied unanswered
    finally:
        await subscription.unsubscribe()
    assert await bus.spec.get(InstanceKey("default", "ns", Kind.CONFIGMAP, name).spec_key) is not None


async def test_without_an_intake_a_request_fails_at_its_timeout(bus: Bus) -> None:
    request = IntakeRequest(op="apply", object=configmap(f"cm-{uuid.uuid4().hex[:6]}"))
    with pytest.raises(NoRespondersError):
        await intake.request(bus.nc, request, timeout=0.6)
