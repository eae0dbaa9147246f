"""Federation fixtures: the real intake, answering on the session's NATS server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fedstate.bus.connection import Bus
from fedstate_federation.intake import serve_intake


@pytest.fixture
async def intake(bus: Bus) -> AsyncIterator[None]:
    subscription = await serve_intake(bus)
    yield
    await subscription.unsubscribe()
