"""Federation fixtures: the real intake, answering on the session's NATS server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fedstate.bus.connection import Bus
from fedstate.sealing import KeyRing
from fedstate_federation.intake import serve_intake
from fedstate_federation.vault import Vault


@pytest.fixture
async def intake(bus: Bus) -> AsyncIterator[None]:
    subscription = await serve_intake(bus, Vault(KeyRing.generate()))
    yield
    await subscription.unsubscribe()
