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
from fedstate.sealing import KeyRing, SealingError
from fedstate.service import run
from fedstate.settings import load_settings

from .intake import serve_intake
from .orchestrator import Orchestrator
from .settings import FederationSettings
from .vault import Vault


def federation_vault(settings: FederationSettings) -> Vault:
    """The federation's key ring, which the admin bootstrap made: without it, nothing could be sealed or opened."""
    path = settings.federation_key_file
    if path is None:
        raise SystemExit(
            "error: FEDSTATE_FEDERATION_KEY_FILE (--federation-key-file) is not set: the federation seals every "
            "credential with its own key, made by `fedstate bus bootstrap --federation-key PATH` (docs/security.md)"
        )
    try:
        return Vault(KeyRing.read(path))
    except (OSError, ValueError, SealingError) as exc:
        raise SystemExit(f"error: cannot read the federation key ring {path}: {exc}") from None


async def body(bus: Bus, stack: AsyncExitStack, settings: FederationSettings, vault: Vault) -> None:
    subscription = await serve_intake(bus, vault)
    stack.push_async_callback(subscription.unsubscribe)
    leadership = Leadership(
        bus.leaders, Elected.ORCHESTRATOR, settings.replica_name or None, timing=LeaderTiming.of(settings)
    )

    async def orchestrate() -> None:
        orchestrator = Orchestrator(bus.fenced(leadership.fence), settings, vault)
        try:
            await orchestrator.run()
        finally:
            await orchestrator.controller.close()

    await leadership.lead(orchestrate)


def main() -> None:
    settings = load_settings(FederationSettings)
    vault = federation_vault(settings)
    run("federation", settings, lambda bus, stack: body(bus, stack, settings, vault))


if __name__ == "__main__":
    main()
