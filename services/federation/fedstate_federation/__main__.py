"""``python -m fedstate_federation``: intake responder + orchestrator.

Every replica answers intake requests (one queue group: each request reaches one replica, and every write of
``fs-spec`` is a compare-and-set, so two replicas never both apply one change); only the holder of the
orchestrator's leader lease orchestrates (decision 0013).
"""

from __future__ import annotations

from contextlib import AsyncExitStack

from fedstate.bus.connection import Bus
from fedstate.bus.names import Elected
from fedstate.leadership import Leadership, LeaderTiming
from fedstate.service import run
from fedstate.settings import load_settings

from .intake import serve_intake
from .orchestrator import Orchestrator
from .settings import FederationSettings


async def body(bus: Bus, stack: AsyncExitStack, settings: FederationSettings) -> None:
    subscription = await serve_intake(bus)
    stack.push_async_callback(subscription.unsubscribe)
    leadership = Leadership(
        bus.leaders, Elected.ORCHESTRATOR, settings.replica_name or None, timing=LeaderTiming.of(settings)
    )

    async def orchestrate() -> None:
        orchestrator = Orchestrator(bus.fenced(leadership.fence), settings)
        try:
            await orchestrator.run()
        finally:
            await orchestrator.controller.close()

    await leadership.lead(orchestrate)


def main() -> None:
    settings = load_settings(FederationSettings)
    run("federation", settings, lambda bus, stack: body(bus, stack, settings))


if __name__ == "__main__":
    main()
