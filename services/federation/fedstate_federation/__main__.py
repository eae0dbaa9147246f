"""``python -m fedstate_federation``: intake responder + orchestrator."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

from fedstate.bus.connection import Bus
from fedstate.service import run
from fedstate.settings import load_settings

from .intake import serve_intake
from .orchestrator import Orchestrator
from .settings import FederationSettings


async def body(bus: Bus, stack: AsyncExitStack, settings: FederationSettings) -> None:
    subscription = await serve_intake(bus)
    stack.push_async_callback(subscription.unsubscribe)
    orchestrator = Orchestrator(bus, settings)
    stack.push_async_callback(orchestrator.controller.close)
    await orchestrator.run()
    await asyncio.Event().wait()


def main() -> None:
    settings = load_settings(FederationSettings)
    run("federation", settings, lambda bus, stack: body(bus, stack, settings))


if __name__ == "__main__":
    main()
